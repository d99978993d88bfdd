/**
 * ExchangeDO: holds client WebSockets (Hibernation API, tagged by identity), forwards their
 * requests to queues by RPC, and delivers outcomes from queues to the right client through a
 * durable outbox kept until acked. What it holds per identity (that outbox, and the outcomes of
 * its HTTP requests it has not read) is capped (outbox-limits.ts: an identity at its cap gets new
 * requests refused, never its outcomes dropped), and a reconnecting client's outbox is replayed
 * in pages (replay-pages.ts). A thin shell: decisions live in
 * client-message.ts, request-admission.ts, enqueue-answers.ts, outbox.ts, outbox-limits.ts,
 * replay-pages.ts and frame-batches.ts. Bound as EXCHANGE; see docs/architecture.md.
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
  type Principal,
  type RequestFrame,
} from "../../protocol/index.js";
import type { Env } from "../../src/env.js";
import { errorResponse, isWebSocketUpgrade, upgradeRequired } from "../../src/http-error.js";
import { alarmNoLaterThan } from "../shared/alarm.js";
import {
  type DeliverAnswer,
  type EnqueueInput,
  type ExchangeRpc,
  FORWARD_HEADERS,
  type Outcome,
} from "../shared/contracts.js";
import type {
  HttpAwaitAnswer,
  HttpAwaitInput,
  HttpExchangeRpc,
  HttpPollAnswer,
  HttpPollInput,
  HttpSubmitAnswer,
  HttpSubmitInput,
} from "../shared/http-contracts.js";
import { forwardedPrincipal, storePrincipal } from "../shared/principal-header.js";
import { clientQueueObject } from "../shared/queue-partitions.js";
import { type RelaySettings, readSettings } from "../shared/settings.js";
import { ackLimit, RateLimiter } from "../shared/token-bucket.js";
import { earliest, nextExpiry } from "../shared/token-expiry.js";
import {
  UNREADABLE_CLOSE_REASON,
  UNREADABLE_REFUSAL,
  UnreadableFrames,
} from "../shared/unreadable-frames.js";
import { webSocketAccepted } from "../shared/upgrade-response.js";
import {
  type ClientAttachment,
  identityTag,
  newAttachment,
  readAttachment,
} from "./client-attachment.js";
import { authorizedPrincipal, sweepExpiredClients } from "./client-expiry.js";
import { cancelRefusal, planClientMessage } from "./client-message.js";
import { DeferredAcks } from "./deferred-acks.js";
import { answersFor, unreachableAnswers } from "./enqueue-answers.js";
import { EnqueueBatcher } from "./enqueue-batcher.js";
import { packFrames } from "./frame-batches.js";
import { HttpClients } from "./http-clients.js";
import { MemoryOutbox } from "./memory-outbox.js";
import { isDeliverable, Outbox, resumeWindowMs, type StoredOutcome } from "./outbox.js";
import {
  addHeld,
  atCap,
  capMessage,
  type Held,
  purgeAt,
  REPLAY_PAGE_BYTES,
  REPLAY_PAGE_FRAMES,
} from "./outbox-limits.js";
import { afterAcks, cursorAfter, type ReplayCursor, takePage } from "./replay-pages.js";
import { admitCancels, admitRequests } from "./request-admission.js";
import { migrateExchange } from "./schema.js";
import { closeQuietly, sendFrames, sendText } from "./socket-io.js";

export class ExchangeDO extends DurableObject<Env> implements ExchangeRpc, HttpExchangeRpc {
  private readonly settings: RelaySettings;
  private readonly outbox: Outbox;
  /** Outcomes of memory-mode queues, within the memory budgets (memory-outbox.ts). */
  private readonly memoryOutbox: MemoryOutbox;
  /** How long an unacked outcome is kept (outbox.ts resumeWindowMs). */
  private readonly resumeWindowMs: number;
  /**
   * Each socket's replay cursor (null: not replaying), read from its attachment the first time
   * this instance delivers to it, then kept in step with the attachment.
   */
  private readonly replays = new WeakMap<WebSocket, ReplayCursor | null>();
  /** Acks of stored outcomes, deleted with the next write (deferred-acks.ts). */
  private readonly acks: DeferredAcks;
  /** One enqueue call in flight per queue object; requests arriving meanwhile share the next. */
  private readonly enqueues: EnqueueBatcher;
  /** Requests of HTTP clients and their outcomes (the HTTP API; http-clients.ts). */
  private readonly http: HttpClients;
  /** Per-identity request buckets; in memory only (a bucket lost to hibernation refills). */
  private readonly rateLimiter: RateLimiter;
  /** Each identity's budget of stored-outbox acks (ackLimit). */
  private readonly ackLimiter: RateLimiter;
  /** Each socket's budget of frames the relay could not read (unreadable-frames.ts). */
  private readonly unreadable = new UnreadableFrames<WebSocket>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.settings = readSettings(env);
    this.resumeWindowMs = resumeWindowMs(this.settings.limits.maxTimeoutMs);
    this.memoryOutbox = new MemoryOutbox(this.resumeWindowMs);
    this.rateLimiter = new RateLimiter(this.settings.rateLimit);
    this.ackLimiter = new RateLimiter(ackLimit(this.settings.rateLimit));
    // Before any table is read: the rest of the constructor reads the outbox.
    migrateExchange(ctx.storage.sql, (fn) => ctx.storage.transactionSync(fn));
    this.outbox = new Outbox(ctx.storage);
    this.acks = new DeferredAcks((identity, ids) => this.outbox.remove(identity, ids));
    this.enqueues = new EnqueueBatcher((object, inputs) =>
      env.QUEUE.getByName(object).enqueueBatch(inputs),
    );
    this.http = new HttpClients(
      ctx.storage,
      (queue, identity) => env.QUEUE.getByName(this.queueObject(queue, identity)),
      this.settings.limits,
      (identity) => this.rateLimiter.take(identity),
      (identity) => this.capRefusal(identity),
    );
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
    const principalHeader = request.headers.get(FORWARD_HEADERS.principal);
    const principal = forwardedPrincipal(principalHeader, identity, this.settings.devMode);
    if (principal === undefined) {
      const message = `missing or invalid ${FORWARD_HEADERS.principal} header`;
      return errorResponse(new EdgeMQError(ERROR_CODE.unauthorized, message));
    }
    const pair = new WebSocketPair();
    this.openConnection(pair[1], principal);
    const expiry = nextExpiry([principal.expiresAt], Date.now());
    if (expiry !== undefined) await alarmNoLaterThan(this.ctx.storage, expiry);
    return webSocketAccepted(request, pair[0]);
  }

  /** Newest connection wins: older sockets of the identity close with `replaced`. */
  private openConnection(server: WebSocket, principal: Principal): void {
    const identity = principal.identity;
    const tag = identityTag(identity);
    const older = this.ctx.getWebSockets(tag);
    this.ctx.acceptWebSocket(server, [tag]);
    const attachment = newAttachment(identity, crypto.randomUUID(), storePrincipal(principal));
    server.serializeAttachment(attachment);
    for (const ws of older) {
      closeQuietly(ws, CLOSE_CODE.replaced, "replaced by a newer connection of this identity");
    }
    const limits = this.settings.limits;
    sendFrames(server, [
      { type: "welcome", v: PROTOCOL_VERSION, identity, role: "client", limits },
    ]);
    this.acks.flush();
    this.expireOutcomes(identity, Date.now());
    this.setReplay(server, attachment, this.sendPage(server, identity, 0));
  }

  /** Sends `ws` the next page of `identity`'s outbox after key `after`; returns the new cursor. */
  private sendPage(
    ws: WebSocket,
    identity: string,
    after: number,
    outstanding = 0,
  ): ReplayCursor | undefined {
    const sources = [
      // One more than a page, so a full page can tell that more is left.
      this.outbox.after(identity, after, REPLAY_PAGE_FRAMES + 1),
      this.memoryOutbox.after(identity, after),
    ];
    const page = takePage(after, sources, REPLAY_PAGE_FRAMES, REPLAY_PAGE_BYTES);
    for (const message of packFrames(page.texts)) sendText(ws, message);
    return cursorAfter(page, outstanding);
  }

  /** Writes `ws`'s replay cursor (undefined: the replay is over) to its attachment. */
  private setReplay(
    ws: WebSocket,
    attachment: ClientAttachment,
    replay: ReplayCursor | undefined,
  ): void {
    if (replay === undefined) delete attachment.replay;
    else attachment.replay = replay;
    ws.serializeAttachment(attachment);
    this.replays.set(ws, replay ?? null);
  }

  /** The client acked `acks` outcomes on `ws`, which is replaying: the next page when due. */
  private continueReplay(
    ws: WebSocket,
    attachment: ClientAttachment,
    replay: ReplayCursor,
    acks: number,
  ): void {
    const { cursor, due } = afterAcks(replay, acks);
    const next = due
      ? this.sendPage(ws, attachment.identity, cursor.after, cursor.outstanding)
      : cursor;
    this.setReplay(ws, attachment, next);
  }

  /** Whether `ws` still has replay pages to get (outcomes for it then wait for their page). */
  private replaying(ws: WebSocket): boolean {
    let cursor = this.replays.get(ws);
    if (cursor === undefined) {
      cursor = readAttachment(ws.deserializeAttachment())?.replay ?? null;
      this.replays.set(ws, cursor);
    }
    return cursor !== null;
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    // Keep-alive text is matched before the codec (docs/protocol.md): `ping` never gets here
    // (auto-response), and a peer's `pong` is no frame, readable or not.
    if (message === PONG_MESSAGE) return;
    const attachment = readAttachment(ws.deserializeAttachment());
    if (attachment === undefined) {
      closeQuietly(ws, CLOSE_CODE.lostState, "connection state lost; reconnect");
      return;
    }
    const { identity } = attachment;
    const principal = authorizedPrincipal(ws, attachment, this.settings.devMode, Date.now());
    if (principal === undefined) return;
    const plan = planClientMessage(message, this.settings.limits);
    if (this.unreadable.exceeded(ws, plan.unreadable, Date.now())) {
      // Refused whole: nothing in it is applied, and its requests were never accepted.
      sendFrames(ws, [UNREADABLE_REFUSAL]);
      closeQuietly(ws, CLOSE_CODE.policy, UNREADABLE_CLOSE_REASON);
      return;
    }
    if (plan.acks.length > 0) {
      this.applyAcks(identity, plan.acks);
      const replay = attachment.replay;
      if (replay !== undefined) this.continueReplay(ws, attachment, replay, plan.acks.length);
    }
    const admitted = admitRequests(plan.enqueues, principal, () => this.rateLimiter.take(identity));
    const cancels = admitCancels(plan.cancels, principal, () => this.rateLimiter.take(identity));
    // Refusals go at once, before any RPC, so they keep the order of the client's messages.
    sendFrames(ws, [...plan.refused, ...admitted.refused, ...cancels.refused]);
    if (admitted.enqueues.size === 0 && cancels.cancels.length === 0) return;
    const capped = admitted.enqueues.size === 0 ? undefined : this.capRefusal(identity);
    const [enqueued, cancelled] = await Promise.all([
      this.enqueueAll(identity, admitted.enqueues, capped),
      this.cancelAll(identity, cancels.cancels),
    ]);
    sendFrames(ws, [...enqueued, ...cancelled]);
  }

  /**
   * Client `identity` acked `ids`: memory outcomes go at once; stored ones are deleted with the
   * next write, within the identity's ack budget (ackLimit: over it they wait for a reconnect).
   */
  private applyAcks(identity: string, ids: readonly string[]): void {
    const stored = this.memoryOutbox.remove(identity, ids);
    if (stored.length === 0) return;
    if (this.ackLimiter.take(identity, stored.length).ok) this.acks.add(identity, stored);
    else console.warn(JSON.stringify({ evt: "acks_over_limit", identity, ids: stored.length }));
  }

  /**
   * Why `identity` may not send new requests now: it is at its cap of unacked and unread outcomes
   * (outbox-limits.ts), counting the acks it sent that are not applied yet as applied.
   */
  private capRefusal(identity: string): string | undefined {
    if (!atCap(this.held(identity))) return undefined;
    this.acks.flush();
    this.expireOutcomes(identity, Date.now());
    const unacked = this.unacked(identity);
    const unread = this.http.unread(identity);
    return atCap(addHeld(unacked, unread)) ? capMessage(unacked, unread) : undefined;
  }

  /** Forgets `identity`'s outcomes past their expiry now, not at the next minute's purge. */
  private expireOutcomes(identity: string, now: number): void {
    this.memoryOutbox.purgeIdentity(identity, now);
    this.outbox.purgeIdentity(identity, now - this.resumeWindowMs);
    this.http.expire(identity, now);
  }

  /** What counts toward `identity`'s cap: its unacked outcomes and its unread HTTP ones. */
  private held(identity: string): Held {
    return addHeld(this.unacked(identity), this.http.unread(identity));
  }

  /** The unacked outcomes held for `identity`, in both outboxes. */
  private unacked(identity: string): Held {
    return addHeld(this.outbox.held(identity), this.memoryOutbox.held(identity));
  }

  /**
   * One RPC per queue; every request gets `accepted` or a typed `error`. With `capped` (the
   * identity is at its outbox cap), the queue answers only re-sends of requests it holds and
   * refuses new ones with `too_many_in_flight` and `capped` (EnqueueInput.resendsOnly).
   */
  private async enqueueAll(
    identity: string,
    groups: ReadonlyMap<string, RequestFrame[]>,
    capped: string | undefined,
  ): Promise<Frame[]> {
    const answers = await Promise.all(
      [...groups].map(async ([queue, requests]) => {
        try {
          const object = this.queueObject(queue, identity);
          const input: EnqueueInput = { queue, from: identity, requests, viaHttp: false };
          if (capped !== undefined) input.resendsOnly = capped;
          const outcomes = await this.enqueues.enqueue(object, input);
          return answersFor(requests, outcomes);
        } catch (error) {
          logFault("enqueue_failed", queue, error);
          return unreachableAnswers(requests, queue);
        }
      }),
    );
    return answers.flat();
  }

  /**
   * A cancel is answered later by the queue's `cancelled` outcome; only a failure answers now.
   * One call per queue object for all of a message's cancels to it.
   */
  private async cancelAll(
    identity: string,
    cancels: readonly { id: string; queue: string }[],
  ): Promise<Frame[]> {
    const groups = new Map<string, { queue: string; ids: string[] }>();
    for (const { id, queue } of cancels) {
      const object = this.queueObject(queue, identity);
      const group = groups.get(object);
      if (group) group.ids.push(id);
      else groups.set(object, { queue, ids: [id] });
    }
    const answers = await Promise.all(
      [...groups].map(async ([object, { queue, ids }]): Promise<Frame[]> => {
        try {
          // The request may still be on its way to the queue (this message's, or one waiting in
          // the batcher): the cancel goes after it, or it would find nothing to cancel.
          await this.enqueues.settled(object);
          await this.env.QUEUE.getByName(object).cancel({ queue, from: identity, ids });
          return [];
        } catch (error) {
          logFault("cancel_failed", queue, error);
          const message = `queue ${queue} is unavailable; cancel not confirmed`;
          return ids.map((id) => cancelRefusal(ERROR_CODE.internal, message, id));
        }
      }),
    );
    return answers.flat();
  }

  /** The partition of `queue` that holds `identity`'s requests (queue-partitions.ts). */
  private queueObject(queue: string, identity: string): string {
    return clientQueueObject(this.settings.queuePartitions, queue, identity);
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    closeQuietly(ws, code, reason);
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    console.warn(JSON.stringify({ evt: "client_socket_error", error: String(error) }));
    closeQuietly(ws, CLOSE_CODE.lostState, "socket error");
  }

  /** HTTP API: enqueues an HTTP client's request (relay-chosen id) on its queue. */
  async submit(input: HttpSubmitInput): Promise<HttpSubmitAnswer> {
    return this.http.submit(input);
  }

  /** HTTP API: the outcome of an HTTP client's request, waiting up to `waitMs` for it. */
  async awaitOutcome(input: HttpAwaitInput): Promise<HttpAwaitAnswer> {
    return this.http.awaitOutcome(input);
  }

  /** HTTP API: a poller's outcomes after its cursor, waiting up to `waitMs` for one. */
  async pollOutcomes(input: HttpPollInput): Promise<HttpPollAnswer> {
    return this.http.pollOutcomes(input);
  }

  /** HTTP API: the queue of an HTTP client's request, to cancel it by its id alone. */
  async httpRequestQueue(input: { identity: string; id: string }): Promise<string | undefined> {
    return this.http.queueOf(input.identity, input.id);
  }

  /**
   * Stores outcomes (until acked) and sends them to their identity's open sockets. Answers which
   * of their recipients are now at their cap, so the queue refuses their link requests too.
   */
  async deliver(outcomes: Outcome[]): Promise<DeliverAnswer> {
    const deliverable = outcomes.filter(isDeliverable);
    if (deliverable.length < outcomes.length) {
      const refused = outcomes.length - deliverable.length;
      console.error(JSON.stringify({ evt: "deliver_refused", refused }));
    }
    // Outcomes of HTTP clients' requests stay with those requests, never in a socket's outbox;
    // unread, they count toward the cap too, so every recipient is asked about (cappedAmong).
    const forSockets = this.http.claim(deliverable);
    if (forSockets.length === 0) return { capped: this.cappedAmong(deliverable) };
    const now = Date.now();
    // Sent before the outbox write, so the output gate does not hold them for its commit: if the
    // relay dies before the commit, this call fails and the queue, which still holds the
    // outcomes, delivers them again (the SDK settles each request once).
    this.sendLive(forSockets);
    // Acks that came before these outcomes existed are applied first: an ack removes only an
    // outcome stored before it, never one this call stores.
    this.acks.flush();
    const stored = this.keep(forSockets, now);
    if (stored) await alarmNoLaterThan(this.ctx.storage, purgeAt(now + this.resumeWindowMs));
    return { capped: this.cappedAmong(deliverable) };
  }

  /** The `too_many_in_flight` message while `identity` is at its cap (asked by queues). */
  async capStatus(identity: string): Promise<string | undefined> {
    return isIdentity(identity) ? this.capRefusal(identity) : undefined;
  }

  /**
   * The recipients of `outcomes` at their cap, each with its refusal message. Advisory: the
   * outcomes are delivered already, so a failure here answers none rather than fail the call.
   */
  private cappedAmong(outcomes: readonly Outcome[]): DeliverAnswer["capped"] {
    const capped: DeliverAnswer["capped"] = [];
    try {
      for (const identity of new Set(outcomes.map((o) => o.to))) {
        const message = this.capRefusal(identity);
        if (message !== undefined) capped.push({ identity, message });
      }
    } catch (error) {
      console.error(JSON.stringify({ evt: "cap_status_failed", error: String(error) }));
    }
    return capped;
  }

  /**
   * Sends outcomes to their identities' sockets. A socket whose replay is still paging gets them
   * in a later page instead (they are stored with later keys), after the older outcomes.
   */
  private sendLive(outcomes: readonly Outcome[]): void {
    for (const [identity, frames] of groupByRecipient(outcomes)) {
      for (const ws of this.ctx.getWebSockets(identityTag(identity))) {
        if (this.replaying(ws)) continue;
        for (const message of packFrames(frames)) sendText(ws, message);
      }
    }
  }

  /**
   * Keeps outcomes until acked, with keys in arrival order: memory-mode ones in memory while
   * they fit its budgets, the others (and those that do not fit) in SQLite. True when any went
   * to SQLite (the alarm then purges them).
   */
  private keep(outcomes: readonly Outcome[], now: number): boolean {
    const toStore: StoredOutcome[] = [];
    let spilled = 0;
    for (const outcome of outcomes) {
      const key = this.outbox.keys.next(now);
      if (outcome.memory !== true) toStore.push({ outcome, key });
      else if (!this.memoryOutbox.keep(outcome, key, now)) {
        toStore.push({ outcome, key });
        spilled++;
      }
    }
    if (spilled > 0) console.warn(JSON.stringify({ evt: "memory_outcomes_stored", spilled }));
    if (toStore.length === 0) return false;
    this.outbox.store(toStore, now);
    return true;
  }

  /**
   * Closes sockets whose token expired and purges outcomes older than the resume window, then
   * waits for the next token expiry or the next oldest outcome, whichever comes first.
   */
  override async alarm(): Promise<void> {
    const now = Date.now();
    const nextExpiry = sweepExpiredClients(this.ctx.getWebSockets(), this.settings.devMode, now);
    this.acks.flush();
    this.memoryOutbox.purge(now);
    const purged = this.outbox.purge(now - this.resumeWindowMs);
    if (purged > 0) console.log(JSON.stringify({ evt: "outbox_purged", purged }));
    const oldest = this.outbox.oldest();
    const outboxNext = oldest === undefined ? undefined : oldest + this.resumeWindowMs;
    const next = earliest(nextExpiry, purgeAt(outboxNext), purgeAt(this.http.purge(now)));
    if (next !== undefined) await this.ctx.storage.setAlarm(next);
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
