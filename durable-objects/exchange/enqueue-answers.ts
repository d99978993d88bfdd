/**
 * Pure mapping from a queue's answer to `enqueue` into the frames a client receives: `accepted`
 * with the deadline, or a typed `error`. Every request gets exactly one answer, even when the queue
 * left one out or the RPC failed. Used by
 * exchange-do.ts.
 */

import { ERROR_CODE, type Frame, type RequestFrame } from "../../protocol/index.js";
import type { EnqueueOutcome } from "../shared/contracts.js";
import { errorFrame } from "./client-message.js";

/** One answer per request, in request order. */
export function answersFor(requests: readonly RequestFrame[], outcomes: EnqueueOutcome[]): Frame[] {
  // Queues answer in request order; the map (which interns every id it is given) is only built
  // when they did not.
  let byId: Map<string, EnqueueOutcome> | undefined;
  const find = (id: string, i: number): EnqueueOutcome | undefined => {
    const inOrder = outcomes[i];
    if (inOrder?.id === id) return inOrder;
    byId ??= new Map(outcomes.map((outcome) => [outcome.id, outcome]));
    return byId.get(id);
  };
  return requests.map((request, i): Frame => {
    const outcome = find(request.id, i);
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
