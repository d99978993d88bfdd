/**
 * How long the HTTP transport's outcome poll asks the relay to wait. A proxy with an idle timeout
 * shorter than the wait (some corporate ones cut a response that sends nothing for a few seconds)
 * cuts every long-poll: each cut looks like the relay out of reach, and every pending request is
 * posted again (http-outcomes.ts), for nothing. When two polls in a row are cut after about the
 * same time (within a quarter), that time is the proxy's: later polls wait a fifth less than it,
 * and end on their own, empty, before the proxy cuts them. One cut alone (a relay restart, a
 * network blip) changes nothing. Pure; used by http-outcomes.ts.
 */

/** A cut sooner than this after the poll began is no proxy timeout (a refusal, a reset). */
export const MIN_CUT_MS = 2_000;
/** The shortest wait a poll asks for. */
export const MIN_POLL_WAIT_MS = 1_000;

export class PollWait {
  #current: number;
  /** How long after it began the last poll was cut, when the last poll was cut. */
  #lastCut: number | undefined;

  constructor(initialMs: number) {
    this.#current = initialMs;
  }

  /** The wait the next poll asks for (ms). */
  get current(): number {
    return this.#current;
  }

  /** A poll that asked `current` failed `elapsedMs` after it began. */
  cut(elapsedMs: number): void {
    if (elapsedMs < MIN_CUT_MS || elapsedMs >= this.#current) {
      this.#lastCut = undefined;
      return;
    }
    const last = this.#lastCut;
    this.#lastCut = elapsedMs;
    if (last === undefined || Math.abs(elapsedMs - last) > Math.min(elapsedMs, last) / 4) return;
    const shorter = Math.floor(Math.min(elapsedMs, last) * 0.8);
    this.#current = Math.max(MIN_POLL_WAIT_MS, Math.min(this.#current, shorter));
  }

  /** A poll got its answer with no cut (a retry's answer after a cut is no such answer). */
  answered(): void {
    this.#lastCut = undefined;
  }
}
