/**
 * How many idle connections fit this machine's open-file limit. The idle workload connects
 * straight to the workerd running the Worker (workerd-entry.mjs), which holds about one file
 * descriptor per WebSocket; through `wrangler dev`'s proxy it was about six (its workerd failed
 * near 3,300 connections with "Too many open files" at the usual 20,000 limit). The idle peer
 * process holds one per socket too. The count asked for is capped here, with the cap printed,
 * rather than crash.
 */
import { readFileSync } from "node:fs";

/**
 * Descriptors per idle WebSocket, measured with 500 sockets: the Worker's workerd 1, the idle
 * peer 1 (wrangler's proxy, not on this route, 6).
 */
const FDS_PER_CONNECTION = 1;
/** Descriptors kept for everything else (files, the proxy's own sockets, load peers). */
const HEADROOM = 1_500;
/**
 * Share of the remaining descriptors the idle workload may use: half, leaving room for the
 * phases after it (through the proxy, using them all left the HTTP phase without descriptors).
 */
const IDLE_SHARE = 0.5;

/** The soft open-file limit of this process (inherited by the relay), or undefined. */
export function openFileLimit() {
  try {
    const limits = readFileSync("/proc/self/limits", "utf8");
    const match = /^Max open files\s+(\d+|unlimited)/m.exec(limits);
    if (!match) return undefined;
    return match[1] === "unlimited" ? Number.POSITIVE_INFINITY : Number(match[1]);
  } catch {
    return undefined;
  }
}

/** The idle connection count to use: the one asked for, or fewer when the limit is lower. */
export function idleCountWithin(asked) {
  const limit = openFileLimit();
  if (limit === undefined) return asked;
  const fits = Math.floor(((limit - HEADROOM) * IDLE_SHARE) / FDS_PER_CONNECTION);
  return Math.max(100, Math.min(asked, fits));
}
