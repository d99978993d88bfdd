/**
 * Frames waiting to go to server sockets, collected while the QueueDO changes SQLite and sent
 * after (so a send never happens for a change that did not commit). Several frames to one
 * socket go as one batch message, split to stay within the protocol's batch size.
 * Used by queue-do.ts, request-lifecycle.ts and dispatcher.ts.
 */
import { encodeFrames, type Frame, MAX_BATCH } from "../../protocol/index.js";

/** Soft cap on one message's text, so a batch of large bodies is split. */
const MAX_BATCH_CHARS = 4 * 1024 * 1024;

export class FrameOutbox {
  private readonly pending = new Map<WebSocket, Frame[]>();

  push(ws: WebSocket, frame: Frame): void {
    const frames = this.pending.get(ws);
    if (frames) frames.push(frame);
    else this.pending.set(ws, [frame]);
  }

  /** Sends everything collected; a socket that is closing is skipped (its close handler runs). */
  flush(): void {
    for (const [ws, frames] of this.pending) {
      for (const message of splitBatches(frames)) send(ws, message);
    }
    this.pending.clear();
  }
}

export function send(ws: WebSocket, message: string): void {
  try {
    ws.send(message);
  } catch {
    // The socket is closing; webSocketClose returns its leases to the queue.
  }
}

/** Encodes frames as batch messages of at most MAX_BATCH frames and about MAX_BATCH_CHARS. */
export function splitBatches(frames: readonly Frame[]): string[] {
  const messages: string[] = [];
  let batch: Frame[] = [];
  let chars = 0;
  for (const frame of frames) {
    const size = frame.type === "dispatch" ? frame.body.data.length : 0;
    if (batch.length > 0 && (batch.length >= MAX_BATCH || chars + size > MAX_BATCH_CHARS)) {
      messages.push(encodeFrames(batch));
      batch = [];
      chars = 0;
    }
    batch.push(frame);
    chars += size;
  }
  if (batch.length > 0) messages.push(encodeFrames(batch));
  return messages;
}
