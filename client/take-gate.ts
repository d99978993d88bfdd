/**
 * How an HTTP server's take loops share the relay: one take at a time long-polls each partition
 * (a "poll"), the other idle loops wait here, in memory. A browser allows 6 connections per host
 * (HTTP/1.1, all tabs of a profile together), and a reply, a lease renewal or a request queues
 * behind the long-polls holding them; a loop per long-poll would starve them. When a take brings
 * a request, its partition's turn to poll passes to the next idle loop, and one more idle loop
 * takes at once without waiting (a "peek"); a peek that brings a request wakes another, so a
 * burst is taken in parallel up to the service's concurrency. Used by http-service.ts.
 */

/** How a loop's next take runs: long-polling (the partition's turn), or not waiting. */
export type TakeMode = "poll" | "peek";

type Wake = (mode: TakeMode) => void;

export class TakeGate {
  /** Partitions (keys) whose turn to poll is held by a loop. */
  readonly #polling = new Set<string>();
  /** Idle loops per partition, oldest first. */
  readonly #idle = new Map<string, Wake[]>();

  /** Resolves when the loop may take on `key`, and how; at once if no loop polls `key`. */
  turn(key: string): Promise<TakeMode> {
    if (!this.#polling.has(key)) {
      this.#polling.add(key);
      return Promise.resolve("poll");
    }
    return new Promise<TakeMode>((resolve) => {
      this.#idle.set(key, [...(this.#idle.get(key) ?? []), resolve]);
    });
  }

  /**
   * A take on `key` ended. A poll hands the turn on to the next idle loop (or frees it); a take
   * that brought a request also wakes an idle loop to peek, as more may be queued.
   */
  done(key: string, mode: TakeMode, brought: boolean): void {
    if (mode === "poll") this.#handOn(key);
    if (brought) this.#next(key)?.("peek");
  }

  /** Wakes every idle loop (closing): each finds the service closed and ends. */
  release(): void {
    const idle = [...this.#idle.values()].flat();
    this.#idle.clear();
    for (const wake of idle) wake("peek");
  }

  #handOn(key: string): void {
    const next = this.#next(key);
    if (next === undefined) this.#polling.delete(key);
    else next("poll");
  }

  #next(key: string): Wake | undefined {
    const idle = this.#idle.get(key);
    const next = idle?.shift();
    if (idle !== undefined && idle.length === 0) this.#idle.delete(key);
    return next;
  }
}
