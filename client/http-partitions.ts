/**
 * Which partition each take loop of an HTTP server polls, and how long each take waits
 * (docs/scaling.md). A queue of K partitions says so in every take's `EdgeMQ-Partitions`; the
 * service's c loops then share the partitions out: loop i owns the partitions p with p mod c = i
 * and takes from them in turn (with c >= K every partition has a loop of its own; extra loops
 * double up on partition i mod K). Until K is known (or with K = 1) a take names no partition and
 * the relay picks. A loop that owns one partition long-polls it for the full wait; a loop that
 * owns several shortens each take so its whole round stays within SHARED_ROUND_MS: the relay
 * counts an HTTP server as present on a partition for 15 s after its last take there, so every
 * partition must be polled well within that (and a request on an idle partition waits at most
 * one round). Pure; used by http-service.ts.
 */

/** Longest one round over a loop's partitions takes when it owns several (under the 15 s presence). */
export const SHARED_ROUND_MS = 10_000;

/** Shortest wait of a take on a loop that owns several partitions (K <= 64 keeps rounds in time). */
export const MIN_SHARED_WAIT_MS = 100;

/** The partition loop `loop` of `concurrency` takes from on its `turn`-th take; undefined: whichever partition. */
export function takePartition(
  loop: number,
  concurrency: number,
  partitions: number,
  turn: number,
): number | undefined {
  if (partitions <= 1) return undefined;
  const owned = ownedPartitions(loop, concurrency, partitions);
  if (owned.length === 0) return loop % partitions;
  return owned[turn % owned.length];
}

/**
 * How long (ms) each take of loop `loop` waits at the relay: `longWaitMs` when it polls one
 * partition (or the relay picks), else a share of SHARED_ROUND_MS per partition it owns.
 */
export function takeWaitMs(
  loop: number,
  concurrency: number,
  partitions: number,
  longWaitMs: number,
): number {
  if (partitions <= 1) return longWaitMs;
  const covered = ownedPartitions(loop, concurrency, partitions).length;
  if (covered <= 1) return longWaitMs;
  return Math.min(longWaitMs, Math.max(MIN_SHARED_WAIT_MS, Math.floor(SHARED_ROUND_MS / covered)));
}

/** The partitions p < partitions with p mod concurrency = loop. */
function ownedPartitions(loop: number, concurrency: number, partitions: number): number[] {
  const owned: number[] = [];
  for (let p = loop; p < partitions; p += Math.max(1, concurrency)) owned.push(p);
  return owned;
}

/** A partition header's value (`EdgeMQ-Partition`, `EdgeMQ-Partitions`), if it is one. */
export function readCount(value: string | null | undefined): number | undefined {
  if (value === null || value === undefined || !/^[0-9]{1,3}$/.test(value)) return undefined;
  return Number(value);
}
