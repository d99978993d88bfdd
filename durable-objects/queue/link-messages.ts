/**
 * One WebSocket message on a client's queue link: the same client frames as on the exchange's
 * socket (request, ack, cancel), for this link's queue only. Requests are stamped with the link's
 * identity, admitted (role, queue, rate limit) and stored here, with no hop through the exchange;
 * each gets `accepted` or a typed `error` on the link. Acks mark outcomes sent down the link as
 * delivered. Anything refused gets an `error` frame and the link stays open. Used by queue-do.ts.
 */
import {
  CLOSE_CODE,
  ERROR_CODE,
  type ErrorFrame,
  type Frame,
  type RequestFrame,
} from "../../protocol/index.js";
import { errorFrame, planClientMessage } from "../exchange/client-message.js";
import { answersFor } from "../exchange/enqueue-answers.js";
import { admitCancels, admitRequests } from "../exchange/request-admission.js";
import { connectionRefusal } from "../shared/token-expiry.js";
import { enqueueAll } from "./enqueue.js";
import type { LinkAttachment } from "./link-attachment.js";
import type { Link } from "./link-registry.js";
import type { QueueSettler } from "./queue-settle.js";
import type { QueueState } from "./queue-state.js";
import { closeQuietly } from "./server-socket.js";

export async function handleLinkMessage(
  rt: QueueSettler,
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
    closeLink(state, link, CLOSE_CODE.unauthorized, refusal);
    await rt.settle(now);
    return;
  }
  const frames = handleFrames(state, link, message, now);
  for (const frame of frames) state.outbox.push(ws, frame);
  await rt.settle(now);
}

/** Closes a link for good (token expired): its unacked outcomes go through the exchange. */
export function closeLink(state: QueueState, link: Link, code: number, reason: string): void {
  const { identity, connId } = link.attachment;
  state.links.remove(identity, connId);
  state.delivery.release(connId);
  closeQuietly(link.ws, code, reason);
}

/** Carries out one message's frames; returns the frames to answer with, in order. */
function handleFrames(
  state: QueueState,
  link: Link,
  message: string | ArrayBuffer,
  now: number,
): Frame[] {
  const { identity, queue, connId } = link.attachment;
  const plan = planClientMessage(message, state.settings.limits);
  if (plan.acks.length > 0) {
    const rids: number[] = [];
    for (const id of plan.acks) {
      const rid = state.store.findRid(identity, id);
      if (rid !== undefined) rids.push(rid);
    }
    state.delivery.acked(rids, connId);
  }
  const refused: ErrorFrame[] = [...plan.refused];
  const mine = new Map<string, RequestFrame[]>();
  for (const [target, requests] of plan.enqueues) {
    if (target === queue) mine.set(target, requests);
    else refused.push(...requests.map((r) => otherQueue(queue, r.id)));
  }
  const admitted = admitRequests(mine, link.principal, () => state.rateLimiter.take(identity));
  const cancels = admitCancels(
    plan.cancels.filter((c) => c.queue === queue || !refused.push(otherQueue(queue, c.id))),
    link.principal,
  );
  const answers: Frame[] = [...refused, ...admitted.refused, ...cancels.refused];
  const requests = admitted.enqueues.get(queue) ?? [];
  if (requests.length > 0) answers.push(...enqueueOnLink(state, identity, queue, requests, now));
  for (const cancel of cancels.cancels) cancelRequest(state, identity, cancel.id, now);
  return answers;
}

function otherQueue(queue: string, id: string): ErrorFrame {
  return errorFrame(ERROR_CODE.badRequest, `this link carries requests for ${queue} only`, id);
}

/** Stores the requests in one transaction; every request gets `accepted` or a typed error. */
function enqueueOnLink(
  state: QueueState,
  from: string,
  queue: string,
  requests: RequestFrame[],
  now: number,
): Frame[] {
  try {
    const outcomes = state.transaction(() =>
      enqueueAll(
        { queue, from, requests },
        {
          store: state.store,
          limits: state.settings.limits,
          serverConnected: state.servers.anyConnected() || state.takers.present(now),
          now,
          onStored: (sender, rid) => state.ready?.add(sender, rid),
          viaLink: true,
        },
      ),
    );
    return answersFor(requests, outcomes);
  } catch (error) {
    // Nothing was stored (the transaction rolled back): every request gets a typed error.
    console.error(JSON.stringify({ evt: "queue.link_enqueue_failed", error: String(error) }));
    state.ready = undefined;
    return requests.map((r) => errorFrame(ERROR_CODE.internal, "internal error", r.id));
  }
}

/** The client gives up request `id`: it ends with `cancelled` (unless it already ended). */
export function cancelRequest(state: QueueState, from: string, id: string, now: number): void {
  state.transaction(() => {
    const rid = state.store.findRid(from, id);
    const row = rid === undefined ? undefined : state.store.get(rid);
    if (row === undefined || row.state === "done") return;
    const message = "the request was cancelled by its client";
    state.lifecycle.fail(row, ERROR_CODE.cancelled, message, now);
  });
}
