/**
 * Counts the frames each socket sent that the relay could not read (malformed, of no known type,
 * over the frame size), in a token bucket per socket (UNREADABLE_FRAMES: a burst, refilled each
 * second), and says when one is past it: the caller then refuses that message whole and closes
 * the socket with 1008. Kept in memory, keyed by the socket object: a wake starts afresh, which
 * only ever forgives. Pure; used by exchange-do.ts, queue/link-messages.ts and queue-do.ts.
 */
import { ERROR_CODE, type ErrorFrame, UNREADABLE_FRAMES } from "../../protocol/index.js";
import { type RateLimit, TokenBucket } from "./token-bucket.js";

/** The close reason, and the last error frame such a socket gets. */
export const UNREADABLE_CLOSE_REASON = "too many frames the relay could not read";

export const UNREADABLE_REFUSAL: ErrorFrame = {
  type: "error",
  code: ERROR_CODE.badRequest,
  message: `${UNREADABLE_CLOSE_REASON} (more than ${UNREADABLE_FRAMES.burst} at once, or ${UNREADABLE_FRAMES.perSecond} a second): this message is refused whole and the connection closed (1008)`,
};

export class UnreadableFrames<K extends object> {
  private readonly buckets = new WeakMap<K, TokenBucket>();

  constructor(private readonly limit: RateLimit = UNREADABLE_FRAMES) {}

  /** Counts `frames` unreadable frames from `socket`; true when that takes it past its budget. */
  exceeded(socket: K, frames: number, now: number): boolean {
    if (frames === 0) return false;
    let bucket = this.buckets.get(socket);
    if (bucket === undefined) {
      bucket = new TokenBucket(this.limit, now);
      this.buckets.set(socket, bucket);
    }
    return !bucket.take(now, frames);
  }
}
