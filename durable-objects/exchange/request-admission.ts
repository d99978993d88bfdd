/**
 * Pure admission of a client's requests, after the message is decoded and before any queue is
 * called: each request frame takes one token from the identity's rate-limit bucket (an empty
 * bucket refuses it with `rate_limited` and a retry hint, unless `isStored` says the queue holds it
 * already: a re-send after a reconnect is answered, not refused), and a request from a token without
 * the client role, or for a queue the token does not allow, is refused with `forbidden`. Refusals are per request: the rest of the batch
 * proceeds. Cancels outside the token's queues are refused the same way. Also resolves the
 * principal of a socket from its attachment. Used by exchange-do.ts and client-expiry.ts.
 */
import {
  allowsQueue,
  ERROR_CODE,
  type ErrorFrame,
  type Principal,
  type RequestFrame,
} from "../../protocol/index.js";
import { devPrincipal, principalOf } from "../shared/principal-header.js";
import { type RateDecision, rateLimitedMessage } from "../shared/token-bucket.js";
import type { ClientAttachment } from "./client-attachment.js";
import { errorFrame } from "./client-message.js";

export interface Admission {
  /** Admitted requests, grouped by queue, in arrival order. */
  enqueues: Map<string, RequestFrame[]>;
  refused: ErrorFrame[];
}

export function admitRequests(
  groups: ReadonlyMap<string, readonly RequestFrame[]>,
  principal: Pick<Principal, "queues" | "roles">,
  takeToken: () => RateDecision,
  isStored: (request: RequestFrame) => boolean = () => false,
): Admission {
  const admission: Admission = { enqueues: new Map(), refused: [] };
  for (const [queue, requests] of groups) {
    const refusal = queueRefusal(principal, queue);
    for (const request of requests) {
      const refused = requestRefusal(request, refusal, takeToken, isStored);
      if (refused !== undefined) admission.refused.push(refused);
      else {
        const group = admission.enqueues.get(queue);
        if (group) group.push(request);
        else admission.enqueues.set(queue, [request]);
      }
    }
  }
  return admission;
}

/** The refusal of one request (rate limit, then the queue's `refusal`), or undefined. */
function requestRefusal(
  request: RequestFrame,
  refusal: string | undefined,
  takeToken: () => RateDecision,
  isStored: (request: RequestFrame) => boolean,
): ErrorFrame | undefined {
  const decision = takeToken();
  if (!decision.ok && !isStored(request)) {
    const message = rateLimitedMessage(decision.retryAfterMs);
    return errorFrame(ERROR_CODE.rateLimited, message, request.id);
  }
  if (refusal !== undefined) return errorFrame(ERROR_CODE.forbidden, refusal, request.id);
  return undefined;
}

/** Why `principal` may not send requests to `queue`, or undefined when it may. */
function queueRefusal(
  principal: Pick<Principal, "queues" | "roles">,
  queue: string,
): string | undefined {
  if (!principal.roles.has("client")) return "this token does not allow the client role";
  if (!allowsQueue(principal, queue)) return `this token does not allow queue ${queue}`;
  return undefined;
}

/**
 * The principal a socket acts as: the one stored at upgrade, or, for a socket accepted before
 * tokens were checked, a dev principal in dev mode and none otherwise (the caller closes it).
 */
export function attachmentPrincipal(
  attachment: ClientAttachment,
  devMode: boolean,
): Principal | undefined {
  if (attachment.principal !== undefined) {
    return principalOf(attachment.identity, attachment.principal);
  }
  return devMode ? devPrincipal(attachment.identity) : undefined;
}

/** Cancels in queues the token allows go on; the others are refused with `forbidden`. */
export function admitCancels(
  cancels: readonly { id: string; queue: string }[],
  principal: Pick<Principal, "queues">,
): { cancels: { id: string; queue: string }[]; refused: ErrorFrame[] } {
  const admitted: { id: string; queue: string }[] = [];
  const refused: ErrorFrame[] = [];
  for (const cancel of cancels) {
    if (allowsQueue(principal, cancel.queue)) admitted.push(cancel);
    else {
      const message = `this token does not allow queue ${cancel.queue}`;
      refused.push(errorFrame(ERROR_CODE.forbidden, message, cancel.id));
    }
  }
  return { cancels: admitted, refused };
}
