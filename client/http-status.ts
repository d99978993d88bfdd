/**
 * Connection status for the HTTP transport, which has no socket: `connected` after the first
 * answer from the relay, `disconnected` then `reconnecting {attempt, delayMs}` when calls fail
 * with network errors (and retry; each attempt number once per outage, however many calls retry),
 * `connected` again once one succeeds. A call refused `unauthorized` (an expired token: every call
 * is refused until setToken) counts as no connection, so the first success after it shows
 * `connected` too. One per link user: the requests of a peer, and each served queue (with its
 * `queue`). Used by http-link.ts callers.
 */
import type { Status } from "./status.js";

export class HttpStatus {
  readonly #emit: (status: Status) => void;
  readonly #queue: string | undefined;
  #state: "new" | "up" | "down" | "refused" = "new";
  /** The highest retry attempt shown in this outage: many calls retrying show each attempt once. */
  #shownAttempt = 0;

  constructor(emit: (status: Status) => void, queue?: string) {
    this.#emit = emit;
    this.#queue = queue;
  }

  /** The relay answered. */
  up(): void {
    if (this.#state === "up") return;
    this.#state = "up";
    this.#shownAttempt = 0;
    this.#emit(
      this.#queue === undefined ? { type: "connected" } : { type: "connected", queue: this.#queue },
    );
  }

  /** A call was refused `unauthorized`: the next answer that is not shows `connected`. */
  refused(): void {
    if (this.#state === "up") this.#state = "refused";
  }

  /** A call failed with `reason`; retry `attempt` follows in `delayMs`. */
  down(reason: string, attempt: number, delayMs: number): void {
    const queue = this.#queue === undefined ? {} : { queue: this.#queue };
    if (this.#state !== "down") {
      this.#state = "down";
      this.#emit({ type: "disconnected", code: 0, reason, ...queue });
    }
    if (attempt <= this.#shownAttempt) return;
    this.#shownAttempt = attempt;
    this.#emit({ type: "reconnecting", attempt, delayMs, ...queue });
  }
}
