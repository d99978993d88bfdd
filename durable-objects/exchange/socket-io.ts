/**
 * Safe sends and closes on Hibernation API sockets: a socket from `getWebSockets()` may already be
 * closing, so every call is guarded and a failure is logged, never thrown into the caller.
 * Used by exchange-do.ts.
 */
import { encodeFrames, type Frame } from "../../protocol/index.js";

/** Close codes a peer may receive but no endpoint may send. */
const RESERVED_CLOSE_CODES: ReadonlySet<number> = new Set([1005, 1006, 1015]);

export function sendText(ws: WebSocket, text: string): boolean {
  try {
    ws.send(text);
    return true;
  } catch (error) {
    console.warn(JSON.stringify({ evt: "send_failed", error: String(error) }));
    return false;
  }
}

export function sendFrames(ws: WebSocket, frames: readonly Frame[]): boolean {
  if (frames.length === 0) return true;
  return sendText(ws, encodeFrames(frames));
}

/** Closes `ws` with `code` (reserved codes become 1000); a socket already closed is fine. */
export function closeQuietly(ws: WebSocket, code: number, reason: string): void {
  const safeCode = RESERVED_CLOSE_CODES.has(code) || code < 1000 || code > 4999 ? 1000 : code;
  try {
    ws.close(safeCode, reason.slice(0, 120));
  } catch {
    // Already closed or closing: nothing left to do.
  }
}
