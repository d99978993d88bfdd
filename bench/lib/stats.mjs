/**
 * Small numeric helpers for the bench: percentiles of latency samples and process CPU deltas
 * (from /proc/<pid>/stat clock ticks, 100 per second on Linux).
 */
import { readProcStat } from "./wrangler.mjs";

const TICKS_PER_SECOND = 100;

/** The p-th percentile (0-100) of `values` by nearest rank; undefined when empty. */
export function percentile(values, p) {
  if (values.length === 0) return undefined;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

/** Starts measuring CPU of `pids`; the returned function gives CPU microseconds used per pid. */
export function cpuMeter(pids) {
  const start = new Map(pids.map((pid) => [pid, readProcStat(pid)?.cpuTicks ?? 0]));
  return () => {
    const used = {};
    for (const pid of pids) {
      const ticks = (readProcStat(pid)?.cpuTicks ?? 0) - (start.get(pid) ?? 0);
      used[pid] = (ticks * 1_000_000) / TICKS_PER_SECOND;
    }
    return used;
  };
}

/** The median of `values` (the mean of the middle two for an even count); undefined when empty. */
export function median(values) {
  const present = values.filter((v) => typeof v === "number" && !Number.isNaN(v));
  if (present.length === 0) return undefined;
  const sorted = Float64Array.from(present).sort();
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
