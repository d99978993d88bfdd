/**
 * Pure admission of a client's requests, after the message is decoded and before any queue is
 * called: each request frame takes one token from the identity's rate-limit bucket (an empty
 * bucket refuses it with `rate_limited` and a retry hint, unless `isStored` says the queue holds it
 * already: a re-send after a reconnect is answered, not refused), and a request from a token without
 * the client role, or for a queue the token does not allow, is refused with `forbidden`. Refusals are per request: the rest of the batch
 * proceeds. Cancels are admitted the same way, and take a token too. Also resolves the
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
import { cancelRefusal, errorFrame } from "./client-message.js";

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

/**
 * Cancels go on as requests do: from a token with the client role, in queues it allows (else
 * `forbidden`), each taking one token from the identity's bucket (else `rate_limited`: a cancel
 * costs its queue a call and a transaction, as a request does).
 */
export function admitCancels(
  cancels: readonly { id: string; queue: string }[],
  principal: Pick<Principal, "queues" | "roles">,
  takeToken: () => RateDecision,
): { cancels: { id: string; queue: string }[]; refused: ErrorFrame[] } {
  const admitted: { id: string; queue: string }[] = [];
  const refused: ErrorFrame[] = [];
  for (const cancel of cancels) {
    const refusal = queueRefusal(principal, cancel.queue);
    const decision = refusal === undefined ? takeToken() : undefined;
    if (refusal !== undefined)
      refused.push(cancelRefusal(ERROR_CODE.forbidden, refusal, cancel.id));
    else if (decision?.ok === false) {
      const message = rateLimitedMessage(decision.retryAfterMs);
      refused.push(cancelRefusal(ERROR_CODE.rateLimited, message, cancel.id));
    } else admitted.push(cancel);
  }
  return { cancels: admitted, refused };
}
