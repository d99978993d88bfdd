/**
 * Pure packing of already-encoded frames into WebSocket messages: one frame is sent bare, several
 * go as a JSON array, and no message exceeds MAX_BATCH frames or a character budget (a large
 * outbox replay becomes several messages). Used by exchange-do.ts for outbox sends.
 */
import { MAX_BATCH } from "../../protocol/index.js";

/** Character budget of one batched message; a single larger frame still goes alone. */
export const BATCH_CHARS = 1024 * 1024;

export function packFrames(
  texts: readonly string[],
  maxFrames: number = MAX_BATCH,
  maxChars: number = BATCH_CHARS,
): string[] {
  const messages: string[] = [];
  let batch: string[] = [];
  let chars = 0;
  for (const text of texts) {
    if (batch.length > 0 && (batch.length >= maxFrames || chars + text.length + 1 > maxChars)) {
      messages.push(joinBatch(batch));
      batch = [];
      chars = 0;
    }
    batch.push(text);
    chars += text.length + 1;
  }
  if (batch.length > 0) messages.push(joinBatch(batch));
  return messages;
}

function joinBatch(batch: readonly string[]): string {
  return batch.length === 1 ? (batch[0] ?? "") : `[${batch.join(",")}]`;
}
