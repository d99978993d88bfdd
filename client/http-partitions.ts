/**
 * How an HTTP server's take loops cover a partitioned queue (docs/scaling.md). A queue of K
 * partitions says so in every take's `EdgeMQ-Partitions`; the service then runs max(c, K) loops
 * (`takeLoops`), as a WebSocket server gives every partition at least one slot, and loop i
 * long-polls partition i mod K: every partition always has a take waiting, so a request on any
 * of them is taken at once and no busy partition waits on another's empty long-poll. Until K is
 * known (or with K = 1) a take names no partition and the relay picks. Pure; used by
 * http-service.ts.
 */

/** How many take loops a service of `concurrency` runs on a queue of `partitions`. */
export function takeLoops(concurrency: number, partitions: number): number {
  return Math.max(concurrency, partitions);
}

/** The partition loop `loop` takes from; undefined: whichever partition (K unknown or 1). */
export function takePartition(loop: number, partitions: number): number | undefined {
  return partitions <= 1 ? undefined : loop % partitions;
}

/** A partition header's value (`EdgeMQ-Partition`, `EdgeMQ-Partitions`), if it is one. */
export function readCount(value: string | null | undefined): number | undefined {
  if (value === null || value === undefined || !/^[0-9]{1,3}$/.test(value)) return undefined;
  return Number(value);
}
