/**
 * The rule both Durable Objects set their one storage alarm by: never push an alarm back, but
 * treat one long overdue as lost and set it again. An alarm that never ran stays in storage with
 * its past time (the platform gives up on an alarm whose handler failed too often, and `wrangler
 * dev` was seen keeping a past alarm it never ran): trusted, it would stop every deadline, lease
 * and purge the object keeps until it restarts. Used by queue-alarm.ts and the exchange.
 */

/**
 * How long past its time an alarm may still be waiting to run (its object is busy) before it
 * counts as lost and is set again. Setting it again is harmless if it was only late.
 */
export const ALARM_OVERDUE_MS = 1_000;

/** Whether an alarm set for `at` should have run by `now`, and so never will. */
export function isOverdue(at: number, now: number): boolean {
  return at < now - ALARM_OVERDUE_MS;
}

/** Whether an alarm wanted by `at` must be set over the one stored (`current`; null: none). */
export function needsAlarm(current: number | null, at: number, now: number): boolean {
  return current === null || current > at || isOverdue(current, now);
}

/** The part of a Durable Object's storage the alarm rule uses. */
export interface AlarmStorage {
  getAlarm(): Promise<number | null>;
  setAlarm(at: number): Promise<void>;
}

/** Sets the alarm to `at` unless one is already due no later (and not lost). */
export async function alarmNoLaterThan(storage: AlarmStorage, at: number): Promise<void> {
  const current = await storage.getAlarm();
  if (needsAlarm(current, at, Date.now())) await storage.setAlarm(at);
}
