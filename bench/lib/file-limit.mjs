/**
 * How many idle connections one local workerd can hold on this machine. `wrangler dev` proxies
 * each WebSocket, and workerd keeps about six file descriptors per proxied connection: at the
 * usual 20,000 open-file limit it fails near 3,300 connections ("Too many open files") and exits.
 * The idle workload asks for 5,000 and is capped here, with the cap printed, rather than crash.
 */
import { readFileSync } from "node:fs";

/** Descriptors workerd uses per proxied idle WebSocket, measured (3,339 at a 20,000 limit). */
const FDS_PER_CONNECTION = 6;
/** Descriptors kept for everything else (files, the proxy's own sockets, load peers). */
const HEADROOM = 1_500;
/**
 * Share of the remaining descriptors the idle workload may use. At the full share (3,083 here)
 * the relay's inspector stopped answering and the HTTP phase that followed ran out of
 * descriptors (closed idle sockets linger in the proxy for a while), so a full run never
 * finished; half leaves room for both.
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
