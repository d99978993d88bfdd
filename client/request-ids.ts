/**
 * Request ids: a prefix per source (one per peer), then a counter in fixed-width base 36. The
 * prefix is the time it was made (milliseconds, fixed-width base 36) and 80 random bits, so
 * ids are unique for the reason a UUID is and increase within a peer and across a client's
 * restarts under the same identity. The relay's unique (identity, id) index then grows at its
 * end: with random ids, every durable insert touched a random page of that index, and inserts
 * slowed as the dedup window filled it (bench/README.md); and a durable queue tells a new id from
 * a resend without a lookup when the id sorts after every id its client stored (request-store.ts),
 * which a restarted client's random prefix broke half the time. Used by requester.ts and
 * http-requester.ts.
 */
import { randomId } from "./platform.js";

/** Ids before the counter would need a ninth base-36 digit (then the prefix is renewed). */
const COUNTER_LIMIT = 36 ** 8;
/** Base-36 digits of the prefix's clock: enough for epoch milliseconds until the year 5138. */
const CLOCK_DIGITS = 9;

export class RequestIds {
  #clock: number;
  #prefix: string;
  #next = 0;

  /** `now` and `limit` (ids per prefix) are for tests. */
  constructor(
    private readonly now: () => number = Date.now,
    private readonly limit = COUNTER_LIMIT,
  ) {
    this.#clock = Math.max(0, Math.floor(this.now()));
    this.#prefix = prefix(this.#clock);
  }

  take(): string {
    if (this.#next >= this.limit) {
      // The next prefix sorts after this one even if the clock went back meanwhile.
      this.#clock = Math.max(this.#clock + 1, Math.floor(this.now()));
      this.#prefix = prefix(this.#clock);
      this.#next = 0;
    }
    const n = this.#next++;
    return `${this.#prefix}.${n.toString(36).padStart(8, "0")}`;
  }
}

function prefix(clock: number): string {
  const time = clock.toString(36).padStart(CLOCK_DIGITS, "0");
  return `${time}${randomId().replace(/-/g, "").slice(0, 20)}`;
}
