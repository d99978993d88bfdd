/**
 * ExchangeDO: holds client WebSockets (Hibernation API, tagged by identity), forwards their
 * requests to queues by RPC, and delivers outcomes from queues to the right client through a
 * durable outbox kept until acked. A thin shell: decisions live in client-message.ts,
 * enqueue-answers.ts, outbox.ts and frame-batches.ts. Bound as EXCHANGE; see docs/architecture.md.
 */
import { DurableObject } from "cloudflare:workers";
import {
  CLOSE_CODE,
  EdgeMQError,
  ERROR_CODE,
  encodeFrame,
  type Frame,
  isIdentity,
  PING_MESSAGE,
  PONG_MESSAGE,
  PROTOCOL_VERSION,
  type RequestFrame,
} from "../../protocol/index.js";
import type { Env } from "../../src/env.js";
import { errorResponse, isWebSocketUpgrade, upgradeRequired } from "../../src/http-error.js";
import { type ExchangeRpc, FORWARD_HEADERS, type Outcome } from "../shared/contracts.js";
import { type RelaySettings, readSettings } from "../shared/settings.js";
import { identityTag, newAttachment, readAttachment } from "./client-attachment.js";
import { errorFrame, planClientMessage } from "./client-message.js";
import { answersFor, unreachableAnswers } from "./enqueue-answers.js";
import { packFrames } from "./frame-batches.js";
import { isDeliverable, Outbox, RESUME_WINDOW_MS } from "./outbox.js";
import { closeQuietly, sendFrames, sendText } from "./socket-io.js";

/** Close code for a socket whose attachment cannot be read (internal error: reconnect). */
const CLOSE_LOST_STATE = 1011;

export class ExchangeDO extends DurableObject<Env> implements ExchangeRpc {
  private readonly settings: RelaySettings;
  private readonly outbox: Outbox;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.settings = readSettings(env);
    this.outbox = new Outbox(ctx.storage);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_MESSAGE, PONG_MESSAGE));
  }

  /** Accepts a client WebSocket forwarded by the front door, which set X-EdgeMQ-Identity. */
  override async fetch(request: Request): Promise<Response> {
    if (!isWebSocketUpgrade(request)) return upgradeRequired();
    const identity = request.headers.get(FORWARD_HEADERS.identity);
    if (!isIdentity(identity)) {
      const message = `missing or invalid ${FORWARD_HEADERS.identity} header`;
      return errorResponse(new EdgeMQError(ERROR_CODE.badRequest, message));
    }
    const pair = new WebSocketPair();
    this.openConnection(pair[1], identity);
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  /** Newest connection wins: older sockets of the identity close with `replaced`. */
  private openConnection(server: WebSocket, identity: string): void {
    const tag = identityTag(identity);
    const older = this.ctx.getWebSockets(tag);
    this.ctx.acceptWebSocket(server, [tag]);
    server.serializeAttachment(newAttachment(identity, crypto.randomUUID()));
    for (const ws of older) {
      closeQuietly(ws, CLOSE_CODE.replaced, "replaced by a newer connection of this identity");
    }
    const limits = this.settings.limits;
    sendFrames(server, [
      { type: "welcome", v: PROTOCOL_VERSION, identity, role: "client", limits },
    ]);
    for (const message of packFrames(this.outbox.pending(identity))) sendText(server, message);
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const attachment = readAttachment(ws.deserializeAttachment());
    if (attachment === undefined) {
      closeQuietly(ws, CLOSE_LOST_STATE, "connection state lost; reconnect");
      return;
    }
    const { identity } = attachment;
    const plan = planClientMessage(message, this.settings.limits);
    if (plan.acks.length > 0) this.outbox.remove(identity, plan.acks);
    // Refusals go at once, before any RPC, so they keep the order of the client's messages.
    sendFrames(ws, plan.refused);
    if (plan.enqueues.size === 0 && plan.cancels.length === 0) return;
    const [enqueued, cancelled] = await Promise.all([
      this.enqueueAll(identity, plan.enqueues),
      this.cancelAll(identity, plan.cancels),
    ]);
    sendFrames(ws, [...enqueued, ...cancelled]);
  }

  /** One RPC per queue; every request gets `accepted` or a typed `error`. */
  private async enqueueAll(
    identity: string,
    groups: ReadonlyMap<string, RequestFrame[]>,
  ): Promise<Frame[]> {
    const answers = await Promise.all(
      [...groups].map(async ([queue, requests]) => {
        try {
          const stub = this.env.QUEUE.getByName(queue);
          const outcomes = await stub.enqueue({ queue, from: identity, requests });
          return answersFor(requests, outcomes);
        } catch (error) {
          logFault("enqueue_failed", queue, error);
          return unreachableAnswers(requests, queue);
        }
      }),
    );
    return answers.flat();
  }

  /** A cancel is answered later by the queue's `cancelled` outcome; only a failure answers now. */
  private async cancelAll(
    identity: string,
    cancels: readonly { id: string; queue: string }[],
  ): Promise<Frame[]> {
    const answers = await Promise.all(
      cancels.map(async ({ id, queue }): Promise<Frame[]> => {
        try {
          await this.env.QUEUE.getByName(queue).cancel({ queue, from: identity, id });
          return [];
        } catch (error) {
          logFault("cancel_failed", queue, error);
          const message = `queue ${queue} is unavailable; cancel not confirmed`;
          return [errorFrame(ERROR_CODE.internal, message, id)];
        }
      }),
    );
    return answers.flat();
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    closeQuietly(ws, code, reason);
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    console.warn(JSON.stringify({ evt: "client_socket_error", error: String(error) }));
    closeQuietly(ws, CLOSE_LOST_STATE, "socket error");
  }

  /** Stores outcomes (until acked) and sends them to their identity's open sockets. */
  async deliver(outcomes: Outcome[]): Promise<void> {
    const deliverable = outcomes.filter(isDeliverable);
    if (deliverable.length < outcomes.length) {
      const refused = outcomes.length - deliverable.length;
      console.error(JSON.stringify({ evt: "deliver_refused", refused }));
    }
    if (deliverable.length === 0) return;
    const now = Date.now();
    this.outbox.store(deliverable, now);
    for (const [identity, frames] of groupByRecipient(deliverable)) {
      for (const ws of this.ctx.getWebSockets(identityTag(identity))) {
        for (const message of packFrames(frames)) sendText(ws, message);
      }
    }
    if ((await this.ctx.storage.getAlarm()) === null) {
      await this.ctx.storage.setAlarm(now + RESUME_WINDOW_MS);
    }
  }

  /** Purges outcomes older than the resume window, then waits for the next oldest. */
  override async alarm(): Promise<void> {
    const purged = this.outbox.purge(Date.now() - RESUME_WINDOW_MS);
    if (purged > 0) console.log(JSON.stringify({ evt: "outbox_purged", purged }));
    const oldest = this.outbox.oldest();
    if (oldest !== undefined) await this.ctx.storage.setAlarm(oldest + RESUME_WINDOW_MS);
  }
}

function groupByRecipient(outcomes: readonly Outcome[]): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const { to, frame } of outcomes) {
    const text = encodeFrame(frame);
    const group = groups.get(to);
    if (group) group.push(text);
    else groups.set(to, [text]);
  }
  return groups;
}

function logFault(evt: string, queue: string, error: unknown): void {
  console.error(JSON.stringify({ evt, queue, error: String(error) }));
}
