/**
 * Packs frames queued in one tick into as few WebSocket messages as the relay accepts: one bare
 * frame, or a JSON array (the same text `encodeFrames` makes), each message under the relay's
 * frame size and batch length limits. Pure; used by connection.ts.
 */
import { encodeFrame, type Frame, MAX_BATCH } from "../protocol/index.js";

export function packMessages(frames: readonly Frame[], maxChars: number): string[] {
  const messages: string[] = [];
  let parts: string[] = [];
  let chars = 1;
  const finish = () => {
    if (parts.length === 1) messages.push(`${parts[0]}`);
    else if (parts.length > 1) messages.push(`[${parts.join(",")}]`);
    parts = [];
    chars = 1;
  };
  for (const frame of frames) {
    const text = encodeFrame(frame);
    if (parts.length > 0 && (parts.length >= MAX_BATCH || chars + text.length + 1 > maxChars)) {
      finish();
    }
    parts.push(text);
    chars += text.length + 1;
  }
  finish();
  return messages;
}
