/**
 * One WebSocket message on a client's queue link: the same client frames as on the exchange's
 * socket (request, ack, cancel), for this link's queue only. Requests are stamped with the link's
 * identity, admitted (role, queue, rate limit) and stored here, with no hop through the exchange
 * (a durable queue stores link requests arriving together in one commit: link-enqueues.ts); each
 * gets `accepted` or a typed `error` on the link (`too_many_in_flight` for new requests of an
 * identity at its exchange's outbox cap: capped-identities.ts). Acks mark outcomes sent down the
 * link as delivered. Anything refused gets an `error` frame and the link stays open, unless it
 * sends more unreadable frames than it may (unreadable-frames.ts: closed with 1008). Writes held
 * for a quiet partition's requests stay held through requests and acks (held-writes.ts).
 * Used by queue-do.ts.
 */
import {
  CLOSE_CODE,
  ERROR_CODE,
  type ErrorFrame,
  type RequestFrame,
} from "../../protocol/index.js";
import {
  type ClientPlan,
  cancelRefusal,
  errorFrame,
  planClientMessage,
} from "../exchange/client-message.js";
import { admitCancels, admitRequests } from "../exchange/request-admission.js";
import { connectionRefusal } from "../shared/token-expiry.js";
import { UNREADABLE_CLOSE_REASON, UNREADABLE_REFUSAL } from "../shared/unreadable-frames.js";
import type { LinkAttachment } from "./link-attachment.js";
import type { LinkEnqueues } from "./link-enqueues.js";
import type { Link } from "./link-registry.js";
import type { QueueSettler } from "./queue-settle.js";
import type { QueueState } from "./queue-state.js";
import { closeQuietly } from "./server-socket.js";

export async function handleLinkMessage(
  rt: QueueSettler,
  enqueues: LinkEnqueues,
  ws: WebSocket,
  attachment: LinkAttachment,
  message: string | ArrayBuffer,
): Promise<void> {
  const state = rt.state;
  const now = Date.now();
  const link = state.links.of(ws, attachment);
  if (link === undefined) {
    // Replaced by a newer link (or state lost): the client re-sends on its current link.
    closeQuietly(ws, CLOSE_CODE.replaced, "a newer link of this client took over");
    return;
  }
  const refusal = connectionRefusal(attachment.principal.expiresAt, state.settings.devMode, now);
  if (refusal !== undefined) {
    state.writeHeld();
    closeLink(state, link, CLOSE_CODE.unauthorized, refusal);
    await rt.settle(now);
    return;
  }
  const decoded = planClientMessage(message, state.settings.limits);
  if (state.unreadable.exceeded(ws, decoded.unreadable, now)) {
    // Refused whole: nothing in it is applied, and its requests were never accepted.
    state.writeHeld();
    state.outbox.push(ws, UNREADABLE_REFUSAL);
    state.outbox.flush();
    closeLink(state, link, CLOSE_CODE.policy, UNREADABLE_CLOSE_REASON);
    await rt.settle(now);
    return;
  }
  const plan = planLinkMessage(state, link, decoded);
  // Requests and acks join the writes held for quiet requests (held-writes.ts); a cancel reads
  // and ends a request, so what is held is written first.
  if (plan.cancels.length > 0) state.writeHeld();
  for (const frame of plan.refused) state.outbox.push(ws, frame);
  const { identity, queue } = link.attachment;
  const cancelAll = () => {
    cancelRequests(state, identity, plan.cancels, now);
  };
  // Cancels wait for a group commit already pending: the requests they name may be in it.
  if (plan.requests.length === 0 && (plan.cancels.length === 0 || !enqueues.waiting)) {
    cancelAll();
  } else if (
    enqueues.add({ link, from: identity, queue, requests: plan.requests, after: cancelAll }) ===
    "deferred"
  ) {
    // The group commit settles (and writes this message's acks) with its own transaction: no
    // commit of its own for this event, which would only delay the one that stores requests.
    state.outbox.flush();
    return;
  }
  await rt.settle(now);
}

/** Closes a link for good (token expired): its unacked outcomes go through the exchange. */
export function closeLink(state: QueueState, link: Link, code: number, reason: string): void {
  const { identity, connId } = link.attachment;
  state.links.remove(identity, connId);
  state.delivery.release(identity, connId);
  closeQuietly(link.ws, code, reason);
}

/** What one message asks: acks are applied at once; refusals, requests and cancels returned. */
function planLinkMessage(
  state: QueueState,
  link: Link,
  plan: ClientPlan,
): { refused: ErrorFrame[]; requests: RequestFrame[]; cancels: string[] } {
  const { identity, queue, connId } = link.attachment;
  if (plan.acks.length > 0) state.delivery.acked(identity, plan.acks, connId);
  const refused: ErrorFrame[] = [...plan.refused];
  const mine = new Map<string, RequestFrame[]>();
  for (const [target, requests] of plan.enqueues) {
    if (target === queue) mine.set(target, requests);
    else refused.push(...requests.map((r) => otherQueue(queue, r.id)));
  }
  const asked = mine.get(queue);
  if (asked !== undefined) {
    const ids = asked.map((r) => r.id);
    state.delivery.askedAgain(identity, ids, connId, Date.now());
  }
  // A re-send of a request this queue holds costs no token: refusing it would tell the client
  // rate_limited about a request that runs anyway.
  const admitted = admitRequests(
    mine,
    link.principal,
    () => state.rateLimiter.take(identity),
    (request) => state.store.findRid(identity, request.id) !== undefined,
  );
  const ownCancels = plan.cancels.filter((c) => {
    const message = `this link carries requests for ${queue} only`;
    if (c.queue !== queue) refused.push(cancelRefusal(ERROR_CODE.badRequest, message, c.id));
    return c.queue === queue;
  });
  const cancels = admitCancels(ownCancels, link.principal, () => state.rateLimiter.take(identity));
  refused.push(...admitted.refused, ...cancels.refused);
  const requests = withinCap(state, identity, admitted.enqueues.get(queue) ?? [], refused);
  return { refused, requests, cancels: cancels.cancels.map((c) => c.id) };
}

/**
 * The requests an identity at its exchange's outbox cap may still send: re-sends of requests this
 * queue holds. New ones are refused with `too_many_in_flight`, as on the exchange's socket.
 */
function withinCap(
  state: QueueState,
  identity: string,
  requests: RequestFrame[],
  refused: ErrorFrame[],
): RequestFrame[] {
  if (requests.length === 0 || state.capped.size === 0) return requests;
  const message = state.capped.refusal(identity, Date.now());
  if (message === undefined) return requests;
  return requests.filter((r) => {
    const held = state.store.findRid(identity, r.id) !== undefined;
    if (!held) refused.push(errorFrame(ERROR_CODE.tooManyInFlight, message, r.id));
    return held;
  });
}

function otherQueue(queue: string, id: string): ErrorFrame {
  return errorFrame(ERROR_CODE.badRequest, `this link carries requests for ${queue} only`, id);
}

/**
 * The client gives up requests `ids`: each ends with `cancelled` (unless it already ended). A
 * cancel for a request the queue has not seen is kept a while: it may have overtaken its request
 * (early-cancels.ts).
 */
export function cancelRequests(
  state: QueueState,
  from: string,
  ids: readonly string[],
  now: number,
): void {
  state.transaction(() => {
    for (const id of ids) {
      const rid = state.store.findRid(from, id);
      const row = rid === undefined ? undefined : state.store.get(rid);
      if (row === undefined) state.earlyCancels.remember(from, id, now);
      if (row === undefined || row.state === "done") continue;
      const message = "the request was cancelled by its client";
      state.lifecycle.fail(row, ERROR_CODE.cancelled, message, now);
    }
  });
}
