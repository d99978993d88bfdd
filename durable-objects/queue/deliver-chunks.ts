/**
 * Splits the outcomes bound for one exchange object into `deliver` calls that each stay far
 * below the platform's 32 MiB limit on one RPC's serialized arguments. Outcomes pile up (a queue
 * link that closes with hundreds of large replies unacked, an exchange that was unreachable), and
 * one call carrying them all would fail on every retry, for ever, holding up every other outcome
 * in it. A body is at most ~1.4 MB (settings.ts), so every chunk fits. Pure.
 */
import type { Headers, WireBody } from "../../protocol/index.js";
import type { Outcome } from "../shared/contracts.js";

/**
 * Characters one `deliver` call carries at most (a lone larger outcome still goes alone). V8
 * serializes a string in one or two bytes a character, so a call stays under 16 MiB.
 */
export const DELIVER_CALL_CHARS = 8 * 1024 * 1024;

/** Room for an outcome's fields besides its body, headers and message. */
const FRAME_OVERHEAD_CHARS = 256;

/** About how many characters `outcome` takes in a `deliver` call. */
export function outcomeChars(outcome: Outcome): number {
  const { frame } = outcome;
  return FRAME_OVERHEAD_CHARS + outcome.to.length + (frame.id?.length ?? 0) + contentChars(frame);
}

/** Characters of an outcome's content: its body and headers, or its error message. */
export function contentChars(frame: Outcome["frame"]): number {
  return frame.type === "error" ? frame.message.length : bodyChars(frame.body, frame.headers);
}

/** Characters of a body and its headers (strings: about what they take in memory, too). */
export function bodyChars(body: WireBody | undefined, headers: Headers | undefined): number {
  let chars = body?.data.length ?? 0;
  for (const name in headers) chars += name.length + (headers[name]?.length ?? 0);
  return chars;
}

/** Consecutive runs of `items` whose outcomes add up to at most `budget` characters each. */
export function deliverChunks<T>(
  items: readonly T[],
  outcomeOf: (item: T) => Outcome,
  budget: number = DELIVER_CALL_CHARS,
): T[][] {
  const chunks: T[][] = [];
  let chunk: T[] = [];
  let chars = 0;
  for (const item of items) {
    const size = outcomeChars(outcomeOf(item));
    if (chunk.length > 0 && chars + size > budget) {
      chunks.push(chunk);
      chunk = [];
      chars = 0;
    }
    chunk.push(item);
    chars += size;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}
