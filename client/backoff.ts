/**
 * Reconnect delays: exponential backoff with full jitter (AWS "Exponential Backoff and Jitter"),
 * delay = random(0, min(max, min * 2^attempt)). Pure; the random source is injectable for tests.
 * Used by connection.ts.
 */

import { EdgeMQError, ERROR_CODE } from "../protocol/index.js";

export interface BackoffOptions {
  minDelayMs: number;
  maxDelayMs: number;
}

/** connect()'s `reconnect` option: either bound may be left out, or undefined, for its default. */
export type ReconnectOption = { [K in keyof BackoffOptions]?: number | undefined } | undefined;

export const DEFAULT_BACKOFF: BackoffOptions = { minDelayMs: 100, maxDelayMs: 10_000 };

/**
 * connect()'s `reconnect` option with the defaults filled in. Throws `bad_request` for a bound that
 * is not a finite number of at least 1 ms: NaN (a Number() of an unset variable), a negative or a
 * zero bound made every delay 0, so a peer that lost the relay retried without pause.
 */
export function backoffOptions(reconnect?: ReconnectOption): BackoffOptions {
  const bounds = { ...DEFAULT_BACKOFF, ...definedOnly(reconnect) };
  for (const [name, value] of Object.entries(bounds)) {
    if (typeof value !== "number" || !Number.isFinite(value) || value < 1) {
      throw new EdgeMQError(
        ERROR_CODE.badRequest,
        `reconnect.${name} must be a finite number of milliseconds, at least 1 (not ${String(value)})`,
      );
    }
  }
  return bounds;
}

/** The bounds given, without those set to undefined (which mean the default). */
function definedOnly(reconnect: ReconnectOption): Partial<BackoffOptions> {
  const given: Partial<BackoffOptions> = {};
  if (reconnect?.minDelayMs !== undefined) given.minDelayMs = reconnect.minDelayMs;
  if (reconnect?.maxDelayMs !== undefined) given.maxDelayMs = reconnect.maxDelayMs;
  return given;
}

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
