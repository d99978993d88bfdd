/**
 * QueueDO: one per named queue. Stores requests in SQLite, holds server sockets (Hibernation API),
 * dispatches fairly with leases, ends requests at their deadline (one multiplexed alarm) and hands
 * outcomes to the exchange. A thin shell over the pure and storage modules beside it; the front
 * door forwards server upgrades to `fetch`, the ExchangeDO calls `enqueue` / `cancel` by RPC.
 */
import { DurableObject } from "cloudflare:workers";
import {
  allowsQueue,
  CLOSE_CODE,
  ERROR_CODE,
  encodeFrame,
  isIdentity,
  isQueueName,
  PING_MESSAGE,
  PONG_MESSAGE,
} from "../../protocol/index.js";
import type { Env } from "../../src/env.js";
import type { EnqueueInput, EnqueueOutcome, QueueRpc } from "../shared/contracts.js";
import { FORWARD_HEADERS } from "../shared/contracts.js";
import type {
  HttpExtendAnswer,
  HttpExtendInput,
  HttpFailInput,
  HttpQueueRpc,
  HttpReplyAnswer,
  HttpReplyInput,
  HttpTakeAnswer,
  HttpTakeInput,
} from "../shared/http-contracts.js";
import { forwardedPrincipal } from "../shared/principal-header.js";
import { deliveryMode } from "../shared/queue-modes.js";
import { type RelaySettings, readSettings } from "../shared/settings.js";
import { earliest } from "../shared/token-expiry.js";
import { webSocketAccepted } from "../shared/upgrade-response.js";
import { nextAlarm } from "./deadlines.js";
import { dispatchReady } from "./dispatcher.js";
import { enqueueAll } from "./enqueue.js";
import { FrameOutbox, send } from "./frame-outbox.js";
import { extendAsHttpServer, failAsHttpServer, httpAnswerRefusal } from "./http-answers.js";
import { httpInputRefusal } from "./http-input.js";
import { type Handout, HttpTakers, MAX_WAITING_TAKES, replyAsHttpServer } from "./http-takers.js";
import { MemoryRequestStore } from "./memory-request-store.js";
import { OutcomeDelivery } from "./outcome-delivery.js";
import { ReadyIndex } from "./ready-index.js";
import { RequestLifecycle } from "./request-lifecycle.js";
import { type RequestStore, SqlRequestStore } from "./request-store.js";
import { migrate, writeQueueName } from "./schema.js";
import {
  readServerAttachment,
  SERVER_ATTACHMENT_VERSION,
  SERVER_TAG,
  type ServerAttachment,
  serverIdentityTag,
} from "./server-attachment.js";
import {
  closeExpiredServers,
  closeServer,
  nextServerExpiry,
  serverRefusal,
} from "./server-expiry.js";
import { handleServerMessage } from "./server-messages.js";
import { serverPlacement } from "./server-placement.js";
import { ServerRegistry } from "./server-registry.js";
import { closeQuietly, httpError, welcomeFrame } from "./server-socket.js";
import { WakeTimer } from "./wake-timer.js";

export interface QueueStats {
  queued: number;
  leased: number;
  servers: number;
}

export class QueueDO extends DurableObject<Env> implements QueueRpc, HttpQueueRpc {
  private readonly settings: RelaySettings;
  /** SQLite (durable) or memory, chosen once the queue's name is known (chooseStore). */
  private store: RequestStore;
  private servers: ServerRegistry;
  private readonly outbox = new FrameOutbox();
  private lifecycle: RequestLifecycle;
  /** HTTP servers: waiting takes and recent presence (the HTTP API; http-takers.ts). */
  private readonly takers = new HttpTakers();
  private delivery: OutcomeDelivery;
  /** Whether the store was chosen for the queue's delivery mode since this wake. */
  private storeChosen = false;
  /** Memory mode's timer (the storage alarm is a write; wake-timer.ts). */
  private readonly wakeTimer = new WakeTimer(() => this.onTimers());
  private ready: ReadyIndex | undefined;
  /** Whether leases of connections lost in a restart were returned since this wake. */
  private orphansReclaimed = false;
  /** The alarm time set in storage: undefined until read after a wake, null when none. */
  private alarmAt: number | null | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.settings = readSettings(env);
    this.store = new SqlRequestStore(ctx.storage.sql);
    this.servers = new ServerRegistry(ctx, this.store);
    this.lifecycle = new RequestLifecycle(
      this.store,
      this.servers,
      this.outbox,
      this.settings.limits,
    );
    this.delivery = this.outcomeDelivery();
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_MESSAGE, PONG_MESSAGE));
    void ctx.blockConcurrencyWhile(async () => {
      migrate(ctx.storage.sql, (fn) => ctx.storage.transactionSync(fn));
    });
  }

  async enqueue(input: EnqueueInput): Promise<EnqueueOutcome[]> {
    const [outcomes] = await this.enqueueBatch([input]);
    return outcomes ?? [];
  }

  /**
   * Several senders' requests in one call (the exchange gathers them while a call to this queue
   * is in flight, enqueue-batcher.ts): one transaction, so one commit, for all of them.
   */
  async enqueueBatch(inputs: EnqueueInput[]): Promise<EnqueueOutcome[][]> {
    const list: readonly EnqueueInput[] = Array.isArray(inputs) ? inputs : [];
    const first = list[0];
    if (first !== undefined) this.chooseStore(first.queue);
    const now = Date.now();
    let outcomes: EnqueueOutcome[][];
    try {
      outcomes = this.transaction(() =>
        list.map((input) =>
          enqueueAll(input, {
            store: this.store,
            limits: this.settings.limits,
            serverConnected: this.servers.anyConnected() || this.takers.present(now),
            now,
            onStored: (from, rid) => this.ready?.add(from, rid),
          }),
        ),
      );
    } catch (error) {
      // Nothing was stored (the transaction rolled back): every request gets a typed error.
      console.error(JSON.stringify({ evt: "queue.enqueue_failed", error: String(error) }));
      this.ready = undefined;
      const failure = { code: ERROR_CODE.internal, message: "internal error" };
      return list.map((input) =>
        (Array.isArray(input.requests) ? input.requests : []).map((r) => ({
          id: r.id,
          ok: false,
          error: failure,
        })),
      );
    }
    await this.settle(now);
    return outcomes;
  }

  async cancel(input: { queue: string; from: string; id: string }): Promise<void> {
    this.chooseStore();
    const now = Date.now();
    this.transaction(() => {
      const rid = this.store.findRid(input.from, input.id);
      const row = rid === undefined ? undefined : this.store.get(rid);
      if (row === undefined || row.state === "done") return;
      this.lifecycle.fail(
        row,
        ERROR_CODE.cancelled,
        "the request was cancelled by its client",
        now,
      );
    });
    await this.settle(now);
  }

  /** HTTP API: leases the next request to HTTP server `identity`, waiting up to `waitMs`. */
  async take(input: HttpTakeInput): Promise<HttpTakeAnswer> {
    this.chooseStore(input.queue);
    const refusal = httpInputRefusal(input, this.store.queueName());
    if (refusal !== undefined) return { ok: false, error: refusal };
    if (this.takers.waitingCount >= MAX_WAITING_TAKES) {
      const message = `${MAX_WAITING_TAKES} takes already wait on this queue; retry later`;
      return { ok: false, error: { code: ERROR_CODE.rateLimited, message } };
    }
    const now = Date.now();
    this.takers.seen(input.identity, now);
    const frame = this.transaction(() => {
      this.store.setQueueName(input.queue);
      this.store.markSawServer();
      return this.takers.takeNow(this.takeDeps(now), input.identity);
    });
    // Registered before any await, so a request enqueued meanwhile is handed to this take.
    const waiting =
      frame === undefined && input.waitMs > 0
        ? this.takers.wait(input.identity, input.waitMs)
        : undefined;
    await this.settle(now);
    const dispatch = frame ?? (waiting === undefined ? null : await waiting);
    this.takers.seen(input.identity, Date.now());
    return { ok: true, dispatch };
  }

  /** HTTP API: HTTP server `identity` replies to relay id `id` (lessee, once, before deadline). */
  async httpReply(input: HttpReplyInput): Promise<HttpReplyAnswer> {
    this.chooseStore();
    const refusal = httpInputRefusal(input, this.store.queueName(), this.settings.limits);
    if (refusal !== undefined) return { ok: false, error: refusal };
    const now = Date.now();
    this.takers.seen(input.identity, now);
    const deps = { store: this.store, lifecycle: this.lifecycle, now };
    const answer = this.transaction(() =>
      replyAsHttpServer(deps, input.identity, input.id, input.body),
    );
    await this.settle(now);
    return answer;
  }

  /** HTTP API: HTTP server `identity` fails relay id `id` (same rules as a reply). */
  async httpFail(input: HttpFailInput): Promise<HttpReplyAnswer> {
    this.chooseStore();
    const refusal = httpAnswerRefusal(input, this.store.queueName());
    if (refusal !== undefined) return { ok: false, error: refusal };
    const now = Date.now();
    this.takers.seen(input.identity, now);
    const deps = {
      store: this.store,
      lifecycle: this.lifecycle,
      limits: this.settings.limits,
      now,
    };
    const answer = this.transaction(() =>
      failAsHttpServer(deps, input.identity, input.id, input.message),
    );
    await this.settle(now);
    return answer;
  }

  /** HTTP API: HTTP server `identity` extends its lease on relay id `id`. */
  async httpExtend(input: HttpExtendInput): Promise<HttpExtendAnswer> {
    this.chooseStore();
    const refusal = httpAnswerRefusal(input, this.store.queueName());
    if (refusal !== undefined) return { ok: false, error: refusal };
    const now = Date.now();
    this.takers.seen(input.identity, now);
    const deps = {
      store: this.store,
      lifecycle: this.lifecycle,
      limits: this.settings.limits,
      now,
    };
    const answer = this.transaction(() => extendAsHttpServer(deps, input.identity, input.id));
    await this.settle(now);
    return answer;
  }

  async stats(): Promise<QueueStats> {
    this.chooseStore();
    return { ...this.store.counts(), servers: this.servers.all().length };
  }

  /** Accepts a server's WebSocket upgrade forwarded by the front door. */
  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
      return httpError(ERROR_CODE.badRequest, "expected a WebSocket upgrade");
    }
    const identity = request.headers.get(FORWARD_HEADERS.identity);
    const queue = request.headers.get(FORWARD_HEADERS.queue);
    if (!isIdentity(identity) || !isQueueName(queue)) {
      return httpError(ERROR_CODE.badRequest, "missing or invalid identity or queue");
    }
    const principalHeader = request.headers.get(FORWARD_HEADERS.principal);
    const principal = forwardedPrincipal(principalHeader, identity, this.settings.devMode);
    if (principal === undefined) {
      return httpError(ERROR_CODE.unauthorized, `missing or invalid ${FORWARD_HEADERS.principal}`);
    }
    if (!principal.roles.has("server") || !allowsQueue(principal, queue)) {
      return httpError(ERROR_CODE.forbidden, `this token does not allow serving ${queue}`);
    }
    this.chooseStore(queue);
    const known = this.store.queueName();
    if (known !== undefined && known !== queue) {
      return httpError(ERROR_CODE.badRequest, "this object serves another queue");
    }
    const now = Date.now();
    const [client, server] = Object.values(new WebSocketPair());
    if (client === undefined || server === undefined) {
      return httpError(ERROR_CODE.internal, "could not create a WebSocket pair");
    }
    this.transaction(() => {
      this.store.setQueueName(queue);
      this.store.markSawServer();
      this.takeOver(identity, now);
    });
    this.ctx.acceptWebSocket(server, [SERVER_TAG, serverIdentityTag(identity)]);
    const attachment: ServerAttachment = {
      v: SERVER_ATTACHMENT_VERSION,
      connId: crypto.randomUUID(),
      identity,
      queue,
      concurrency: 0,
      expiresAt: principal.expiresAt,
    };
    server.serializeAttachment(attachment);
    this.servers.invalidate();
    const placementHeader = request.headers.get(FORWARD_HEADERS.partition);
    const placement = serverPlacement(this.settings.queuePartitions, queue, placementHeader);
    send(server, encodeFrame(welcomeFrame(identity, queue, this.settings.limits, placement)));
    await this.settle(now);
    return webSocketAccepted(request, client);
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    this.chooseStore();
    const conn = readServerAttachment(ws.deserializeAttachment());
    if (conn === undefined) {
      closeQuietly(ws, CLOSE_CODE.badRequest, "unknown connection");
      return;
    }
    const now = Date.now();
    const refusal = serverRefusal(conn, this.settings.devMode, now);
    if (refusal !== undefined) {
      this.transaction(() => closeServer(this.expiryDeps(now), ws, conn, refusal));
      await this.settle(now);
      return;
    }
    const deps = { ...this.parts(), limits: this.settings.limits, now };
    try {
      this.transaction(() => handleServerMessage(deps, ws, conn, message));
    } catch (error) {
      console.error(JSON.stringify({ evt: "queue.message_failed", error: String(error) }));
      send(
        ws,
        encodeFrame({ type: "error", code: ERROR_CODE.internal, message: "internal error" }),
      );
    }
    await this.settle(now);
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    this.chooseStore();
    this.connectionGone(ws);
    const sendable = code === CLOSE_CODE.normal || (code >= 3000 && code <= 4999);
    closeQuietly(ws, sendable ? code : CLOSE_CODE.normal, "closing");
    await this.settle(Date.now());
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.chooseStore();
    this.connectionGone(ws);
    await this.settle(Date.now());
  }

  /** The storage alarm (durable mode's timers, and server token expiries in both modes). */
  override async alarm(): Promise<void> {
    this.alarmAt = null;
    this.chooseStore();
    await this.onTimers();
  }

  /**
   * Picks the request store for this queue's delivery mode (EDGEMQ_QUEUE_MODES) the first time
   * its name is known in this wake: given by the caller, or read from `meta`. Before that the
   * object holds nothing, so the SQLite store stands in. Memory mode's store starts empty.
   */
  private chooseStore(queue?: string): void {
    if (this.storeChosen) return;
    const name = this.store.queueName() ?? (isQueueName(queue) ? queue : undefined);
    if (name === undefined) return;
    this.storeChosen = true;
    if (deliveryMode(this.settings.queueModes, name) !== "memory") return;
    const sql = this.ctx.storage.sql;
    const known = this.store.queueName();
    this.store = new MemoryRequestStore((n) => writeQueueName(sql, n), known);
    this.servers = new ServerRegistry(this.ctx, this.store);
    this.lifecycle = new RequestLifecycle(
      this.store,
      this.servers,
      this.outbox,
      this.settings.limits,
    );
    this.delivery = this.outcomeDelivery();
    this.ready = undefined;
  }

  private outcomeDelivery(): OutcomeDelivery {
    return new OutcomeDelivery(
      this.store,
      (name) => this.env.EXCHANGE.getByName(name),
      this.settings.exchangeShards,
    );
  }

  /** Ends expired requests, reclaims ran-out leases, purges old ids, retries deliveries. */
  private async onTimers(): Promise<void> {
    const now = Date.now();
    this.transaction(() => {
      this.delivery.recordDelivered();
      this.lifecycle.expireDue(now);
      this.lifecycle.reclaimEndedLeases(now);
      this.store.purge(now, this.settings.limits.dedupWindowMs);
    });
    await this.settle(now);
    await this.delivery.flush(Date.now());
    await this.scheduleAlarm();
  }

  private expiryDeps(now: number) {
    const { servers, lifecycle } = this;
    return { servers, lifecycle, devMode: this.settings.devMode, now };
  }

  private takeDeps(now: number) {
    const limits = this.settings.limits;
    const queue = this.store.queueName() ?? "";
    return { ...this.parts(), ready: this.readyIndex(), limits, queue, now };
  }

  private parts() {
    const { store, servers, lifecycle, outbox } = this;
    return { store, servers, lifecycle, outbox };
  }

  /** A newer connection of `identity` takes over: older ones close, their leases return. */
  private takeOver(identity: string, now: number): void {
    for (const old of this.ctx.getWebSockets(serverIdentityTag(identity))) {
      const att = readServerAttachment(old.deserializeAttachment());
      if (att) {
        this.servers.retire(att.connId);
        this.lifecycle.dropConnection(att.connId, now);
      }
      closeQuietly(old, CLOSE_CODE.replaced, "a newer connection of this server took over");
    }
  }

  private connectionGone(ws: WebSocket): void {
    const conn = readServerAttachment(ws.deserializeAttachment());
    if (conn === undefined) return;
    this.servers.retire(conn.connId);
    this.transaction(() => this.lifecycle.dropConnection(conn.connId, Date.now()));
  }

  /** After any change: dispatch what can go, send frames, start delivery, set the alarm. */
  private async settle(now: number): Promise<void> {
    let handouts: Handout[] = [];
    this.transaction(() => {
      this.delivery.recordDelivered();
      if (!this.orphansReclaimed) this.lifecycle.reclaimOrphanLeases(now);
      this.orphansReclaimed = true;
      closeExpiredServers(this.expiryDeps(now));
      // Waiting HTTP takes first: each has been idle since its wait began (http-takers.ts).
      handouts = this.takers.handOut(this.takeDeps(now));
      dispatchReady({
        ...this.parts(),
        ready: this.readyIndex(),
        limits: this.settings.limits,
        queue: this.store.queueName() ?? "",
        now,
      });
    });
    this.outbox.flush();
    this.takers.resolve(handouts);
    this.ctx.waitUntil(this.deliver());
    await this.scheduleAlarm();
  }

  private async deliver(): Promise<void> {
    await this.delivery.flush(Date.now());
    await this.scheduleAlarm();
  }

  private readyIndex(): ReadyIndex {
    if (this.ready === undefined || this.lifecycle.requeued) {
      this.ready = ReadyIndex.from(this.store.queued());
      this.lifecycle.requeued = false;
    }
    return this.ready;
  }

  /** Sets the one alarm to the earliest timer, unless an earlier alarm is already set. */
  private async scheduleAlarm(): Promise<void> {
    const now = Date.now();
    const timers = this.store.timers(this.settings.limits.dedupWindowMs);
    const serverExpiry = nextServerExpiry(this.servers, now);
    let next: number | undefined;
    if (this.store.mode === "memory") {
      // Memory mode: an in-memory timer for its requests, purges left to the next event (so an
      // idle queue may hibernate); the storage alarm only for server token expiries.
      this.store.purge(now, this.settings.limits.dedupWindowMs);
      this.wakeTimer.arm(nextAlarm({ ...timers, nextPurge: undefined }), now);
      next = serverExpiry;
    } else {
      next = earliest(nextAlarm(timers), serverExpiry);
    }
    if (next === undefined) return;
    if (this.alarmAt === undefined) this.alarmAt = await this.ctx.storage.getAlarm();
    if (this.alarmAt !== null && this.alarmAt <= next) return;
    this.alarmAt = next;
    await this.ctx.storage.setAlarm(next);
  }

  /** Memory mode writes nothing: no SQLite transaction (even an empty one may commit). */
  private transaction<T>(fn: () => T): T {
    if (this.store.mode === "memory") return fn();
    return this.ctx.storage.transactionSync(fn);
  }
}
