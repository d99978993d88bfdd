/**
 * Cancels that arrived before their request. A client's cancel and its request can take
 * different paths to the queue (an HTTP `DELETE` comes straight here while its `POST` goes
 * through the exchange; on `/v1/connect` both are calls from the exchange), so a cancel sent
 * right after its request may come first. The queue remembers such a cancel for
 * EARLY_CANCEL_MS, and the request, when it comes (and any re-send of it in that time), is
 * refused `cancelled` instead of being run for a client that gave it up. In memory only, and bounded: the oldest are forgotten first.
 * Pure; used by link-messages.ts (cancelRequests) and enqueue.ts.
 */

/** How long a cancel for a request the queue does not hold waits for that request. */
export const EARLY_CANCEL_MS = 60_000;

/** Most early cancels remembered at once. */
export const MAX_EARLY_CANCELS = 10_000;

export class EarlyCancels {
  /** (identity, id) key → until when; in insertion order, which is expiry order. */
  private readonly until = new Map<string, number>();

  get size(): number {
    return this.until.size;
  }

  /** Client `from` cancelled request `id`, which the queue does not hold. */
  remember(from: string, id: string, now: number): void {
    this.forgetExpired(now);
    const key = keyOf(from, id);
    this.until.delete(key);
    this.until.set(key, now + EARLY_CANCEL_MS);
    if (this.until.size > MAX_EARLY_CANCELS) {
      const oldest = this.until.keys().next();
      if (oldest.done !== true) this.until.delete(oldest.value);
    }
  }

  /**
   * Whether request `id` of `from` was cancelled before it came. The cancel is kept until it
   * expires, so a re-send of that request (an HTTP client's retried POST) is refused too.
   */
  cancelled(from: string, id: string, now: number): boolean {
    if (this.until.size === 0) return false;
    const until = this.until.get(keyOf(from, id));
    return until !== undefined && until > now;
  }

  private forgetExpired(now: number): void {
    for (const [key, until] of this.until) {
      if (until > now) return;
      this.until.delete(key);
    }
  }
}

function keyOf(from: string, id: string): string {
  return `${from}\n${id}`;
}
