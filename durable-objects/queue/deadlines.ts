/**
 * Pure time rules of a queue: how an expired request ends (timeout, or no_responders when no
 * server was connected at any moment of its life), when a lease runs out, and when the single
 * alarm must fire next. Used by queue-alarm.ts and request-store.ts.
 */
import { ERROR_CODE, type ErrorCode } from "../../protocol/index.js";

/** Whether a request is past its deadline (an expired request is never dispatched). */
export function isExpired(deadline: number, now: number): boolean {
  return deadline <= now;
}

/** The error an expired request ends with. */
export function expiryError(sawServer: boolean): { code: ErrorCode; message: string } {
  return sawServer
    ? { code: ERROR_CODE.timeout, message: "the request's deadline passed before a reply" }
    : { code: ERROR_CODE.noResponders, message: "no server was connected to the queue" };
}

/** A lease lasts `leaseMs`, never past the request's deadline. */
export function leaseUntil(now: number, deadline: number, leaseMs: number): number {
  return Math.min(deadline, now + leaseMs);
}

/** The moments the queue must wake for; each `undefined` when there is none. */
export interface Timers {
  nextDeadline: number | undefined;
  nextLeaseEnd: number | undefined;
  nextDeliveryRetry: number | undefined;
  nextPurge: number | undefined;
}

/** The one alarm time serving every timer, or `undefined` when nothing is pending. */
export function nextAlarm(timers: Timers): number | undefined {
  let next: number | undefined;
  for (const t of Object.values(timers)) {
    if (t !== undefined && (next === undefined || t < next)) next = t;
  }
  return next;
}

/** How long after a finish (or a failed `deliver` call) an undelivered outcome is retried. */
export const DELIVERY_RETRY_MS = 1_000;
