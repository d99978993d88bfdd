/**
 * Reconnect delays: exponential backoff with full jitter (AWS "Exponential Backoff and Jitter"),
 * delay = random(0, min(max, min * 2^attempt)). Pure; the random source is injectable for tests.
 * Used by connection.ts.
 */

export interface BackoffOptions {
  minDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { minDelayMs: 100, maxDelayMs: 10_000 };

/** The delay before reconnect attempt `attempt` (0 for the first retry), in whole milliseconds. */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  const step = Math.min(Math.max(attempt, 0), 31);
  const ceiling = Math.min(options.maxDelayMs, options.minDelayMs * 2 ** step);
  return Math.floor(random() * Math.max(ceiling, 0));
}
