/**
 * Which partition each take loop of an HTTP server polls (docs/scaling.md). A queue of K
 * partitions says so in every take's `EdgeMQ-Partitions`; the service's c loops then share the
 * partitions out: loop i owns the partitions p with p mod c = i and takes from them in turn (with
 * c >= K every partition has a loop of its own; extra loops double up on partition i mod K). Until
 * K is known (or with K = 1) a take names no partition and the relay picks. Pure; used by
 * http-service.ts.
 */

/** The partition loop `loop` of `concurrency` takes from on its `turn`-th take; undefined: whichever partition. */
export function takePartition(
  loop: number,
  concurrency: number,
  partitions: number,
  turn: number,
): number | undefined {
  if (partitions <= 1) return undefined;
  const owned: number[] = [];
  for (let p = loop; p < partitions; p += Math.max(1, concurrency)) owned.push(p);
  if (owned.length === 0) return loop % partitions;
  return owned[turn % owned.length];
}

/** A partition header's value (`EdgeMQ-Partition`, `EdgeMQ-Partitions`), if it is one. */
export function readCount(value: string | null | undefined): number | undefined {
  if (value === null || value === undefined || !/^[0-9]{1,3}$/.test(value)) return undefined;
  return Number(value);
}
