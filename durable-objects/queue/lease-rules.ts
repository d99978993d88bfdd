/**
 * Pure lease rules: whether an answer (reply, fail, extend) from a server connection is accepted
 * for a request, what happens to a request whose lease is lost (back to the queue, or
 * server_error past maxAttempts dispatches), and which requests run alone (runsAlone). Used by
 * queue-do.ts, dispatcher.ts and http-takers.ts; unit-tested.
 */
import {
  ERROR_CODE,
  type ErrorCode,
  err,
  isLoneDispatch,
  ok,
  type Result,
} from "../../protocol/index.js";

export type RequestState = "queued" | "leased" | "done";

/** The parts of a stored request the rules look at. */
export interface LeaseView {
  state: RequestState;
  leaseConn: string | null;
  deadline: number;
}

export interface Refusal {
  code: ErrorCode;
  message: string;
}

/**
 * Accepts an answer only from the connection the request is leased to, once, before the
 * deadline. `row` is `undefined` for an unknown (or purged) relay id.
 */
export function checkAnswer(
  row: LeaseView | undefined,
  connId: string,
  now: number,
): Result<void, Refusal> {
  if (row === undefined) return err(refusal(ERROR_CODE.forbidden, UNKNOWN_ID_MESSAGE));
  // Only the connection that held the lease learns more about the request than that.
  if (row.leaseConn !== connId || row.state === "queued") {
    return err(refusal(ERROR_CODE.forbidden, "the request is not leased to this connection"));
  }
  if (row.deadline <= now) return err(refusal(ERROR_CODE.expired, "the deadline has passed"));
  if (row.state === "done") return err(ALREADY_ENDED);
  return ok(undefined);
}

/** An answer naming no request this queue holds. */
export const UNKNOWN_ID_MESSAGE = "unknown request id";

/** An answer to a request that already has its outcome (the lessee answered, or it was cancelled). */
export const ALREADY_ENDED: Readonly<Refusal> = {
  code: ERROR_CODE.conflict,
  message: "the request already has its outcome (answered or cancelled)",
};

/** What becomes of a request whose lease was lost after `attempt` dispatches. */
export function afterLeaseLoss(attempt: number, maxAttempts: number): "requeue" | "fail" {
  return attempt >= maxAttempts ? "fail" : "requeue";
}

/**
 * Whether a request dispatched `attempt` times so far runs alone on its next dispatch: it lost a
 * lease before (its server crashed, stalled or dropped) and the next is its last allowed one. It
 * then goes only to a server holding nothing else, which gets nothing else until it ends. A
 * request that crashes every server it reaches (a poison request) then uses up only its own
 * attempts: a request that shared a server with it runs its last attempt apart from it, instead
 * of failing with it. With maxAttempts 1 no request runs alone (none had a lease before).
 */
export function runsAlone(attempt: number, maxAttempts: number): boolean {
  return isLoneDispatch(attempt + 1, maxAttempts);
}

/** The least `attempt` of a lease that runs alone (isLoneDispatch, counted after its dispatch). */
export function loneAttempt(maxAttempts: number): number {
  return Math.max(2, maxAttempts);
}

export const REDELIVERY_MESSAGE = "the request was redelivered too many times";

function refusal(code: ErrorCode, message: string): Refusal {
  return { code, message };
}
