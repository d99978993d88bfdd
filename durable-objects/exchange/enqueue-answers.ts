/**
 * Pure mapping from a queue's answer to `enqueue` into the frames a client receives: `accepted`
 * with the deadline, or a typed `error`. Every request gets exactly one answer, even when the queue
 * left one out or the RPC failed. Used by exchange-do.ts.
 */

import { ERROR_CODE, type Frame, type RequestFrame } from "../../protocol/index.js";
import type { EnqueueOutcome } from "../shared/contracts.js";
import { errorFrame } from "./client-message.js";

/** One answer per request, in request order. */
export function answersFor(requests: readonly RequestFrame[], outcomes: EnqueueOutcome[]): Frame[] {
  const byId = new Map<string, EnqueueOutcome>();
  for (const outcome of outcomes) byId.set(outcome.id, outcome);
  return requests.map((request): Frame => {
    const outcome = byId.get(request.id);
    if (outcome === undefined) {
      return errorFrame(ERROR_CODE.internal, "the queue did not answer this request", request.id);
    }
    if (outcome.ok) return { type: "accepted", id: request.id, deadline: outcome.deadline };
    return errorFrame(outcome.error.code, outcome.error.message, request.id);
  });
}

/** The answers when the queue could not be reached: each request fails, typed and safe. */
export function unreachableAnswers(requests: readonly RequestFrame[], queue: string): Frame[] {
  const message = `queue ${queue} is unavailable; retry later`;
  return requests.map((request) => errorFrame(ERROR_CODE.internal, message, request.id));
}
