/**
 * Which partitions an HTTP server must tell the relay it still serves (`POST .../presence`,
 * docs/http-api.md). The relay counts an HTTP server as connected on a partition (for
 * `no_responders` and `failFast`) while one of its takes waits there and for 15 s after its last
 * call there. Take loops cover their partitions while they poll, but a loop busy in a handler
 * polls none: a partition with no take waiting and none for PRESENCE_REFRESH_MS gets a presence
 * call instead. Partition 0 stands for the whole queue when it has one. Pure; used by
 * http-service.ts.
 */

/** A partition not polled for this long (ms) gets a presence call (the relay keeps 15 s). */
export const PRESENCE_REFRESH_MS = 10_000;

/** How often (ms) the service looks for partitions whose presence is lapsing. */
export const PRESENCE_CHECK_MS = 2_500;

export class PartitionPresence {
  readonly #lastSeen = new Map<number, number>();
  readonly #waiting = new Map<number, number>();
  /** When tracking began: a partition never polled counts as seen then. */
  readonly #since: number;

  constructor(now: number) {
    this.#since = now;
  }

  /** A take on `partitions` started: it keeps them present while it waits. */
  takeStarted(partitions: readonly number[], now: number): void {
    for (const p of partitions) {
      this.#waiting.set(p, (this.#waiting.get(p) ?? 0) + 1);
      this.#lastSeen.set(p, now);
    }
  }

  /** A take on `partitions` ended (answered, refused or failed). */
  takeEnded(partitions: readonly number[], now: number): void {
    for (const p of partitions) {
      const left = (this.#waiting.get(p) ?? 1) - 1;
      if (left > 0) this.#waiting.set(p, left);
      else this.#waiting.delete(p);
      this.#lastSeen.set(p, now);
    }
  }

  /** The relay heard from this server on `partition` (a lease renewal, a presence call). */
  seen(partition: number, now: number): void {
    this.#lastSeen.set(partition, now);
  }

  /** The partitions of `count` with no take waiting and nothing heard for PRESENCE_REFRESH_MS. */
  lapsing(count: number, now: number): number[] {
    const lapsing: number[] = [];
    for (let p = 0; p < Math.max(1, count); p++) {
      if ((this.#waiting.get(p) ?? 0) > 0) continue;
      const last = this.#lastSeen.get(p) ?? this.#since;
      if (now - last >= PRESENCE_REFRESH_MS) lapsing.push(p);
    }
    return lapsing;
  }
}

/** The partitions a take reaches: the one it names, else (the relay picks) all `count` of them. */
export function takeReaches(partition: number | undefined, count: number): number[] {
  if (partition !== undefined) return [partition];
  return Array.from({ length: Math.max(1, count) }, (_, p) => p);
}
