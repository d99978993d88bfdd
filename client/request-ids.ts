/**
 * Request ids: a random prefix per source (one per peer), then a counter in fixed-width base 36.
 * Unique for the reason a UUID is (the prefix carries over 90 random bits), and increasing within
 * a peer, so the relay's unique (identity, id) index grows at its end: with random ids, every
 * durable insert touched a random page of that index, and inserts slowed as the dedup window
 * filled it (bench/README.md). Used by requester.ts and http-requester.ts.
 */
import { randomId } from "./platform.js";

/** Ids before the counter would need a ninth base-36 digit (then the prefix is renewed). */
const COUNTER_LIMIT = 36 ** 8;

export class RequestIds {
  #prefix = newPrefix();
  #next = 0;

  take(): string {
    if (this.#next >= COUNTER_LIMIT) {
      this.#prefix = newPrefix();
      this.#next = 0;
    }
    const n = this.#next++;
    return `${this.#prefix}.${n.toString(36).padStart(8, "0")}`;
  }
}

function newPrefix(): string {
  return randomId().replace(/-/g, "").slice(0, 24);
}
