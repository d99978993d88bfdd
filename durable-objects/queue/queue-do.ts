/**
 * QueueDO: one per named queue. Stores requests in SQLite, holds server sockets (Hibernation API),
 * dispatches fairly with leases, ends requests at their deadline (one multiplexed alarm) and hands
 * outcomes to the exchange. A thin shell over the pure and storage modules beside it; the front
 * door forwards server upgrades to `fetch`, the ExchangeDO calls `enqueue` / `cancel` by RPC.
 */
import { DurableObject } from "cloudflare:workers";
import {
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
import { type RelaySettings, readSettings } from "../shared/settings.js";
import { nextAlarm } from "./deadlines.js";
import { dispatchReady } from "./dispatcher.js";
import { enqueueAll } from "./enqueue.js";
import { FrameOutbox, send } from "./frame-outbox.js";
import { OutcomeDelivery } from "./outcome-delivery.js";
import { ReadyIndex } from "./ready-index.js";
import { RequestLifecycle } from "./request-lifecycle.js";
import { RequestStore } from "./request-store.js";
import { migrate } from "./schema.js";
import {
  readServerAttachment,
  SERVER_ATTACHMENT_VERSION,
  SERVER_TAG,
  type ServerAttachment,
  serverIdentityTag,
} from "./server-attachment.js";
import { handleServerMessage } from "./server-messages.js";
import { ServerRegistry } from "./server-registry.js";
import { closeQuietly, httpError, welcomeFrame } from "./server-socket.js";

export interface QueueStats {
  queued: number;
  leased: number;
  servers: number;
}

export class QueueDO extends DurableObject<Env> implements QueueRpc {
  private readonly settings: RelaySettings;
  private readonly store: RequestStore;
  private readonly servers: ServerRegistry;
  private readonly outbox = new FrameOutbox();
  private readonly lifecycle: RequestLifecycle;
  private readonly delivery: OutcomeDelivery;
  private ready: ReadyIndex | undefined;
  /** Whether leases of connections lost in a restart were returned since this wake. */
  private orphansReclaimed = false;
  /** The alarm time set in storage: undefined until read after a wake, null when none. */
  private alarmAt: number | null | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.settings = readSettings(env);
    this.store = new RequestStore(ctx.storage.sql);
    this.servers = new ServerRegistry(ctx, this.store);
    this.lifecycle = new RequestLifecycle(
      this.store,
      this.servers,
      this.outbox,
      this.settings.limits,
    );
    this.delivery = new OutcomeDelivery(
      this.store,
      (name) => env.EXCHANGE.getByName(name),
      this.settings.exchangeShards,
    );
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_MESSAGE, PONG_MESSAGE));
    void ctx.blockConcurrencyWhile(async () => {
      migrate(ctx.storage.sql, (fn) => ctx.storage.transactionSync(fn));
    });
  }

  async enqueue(input: EnqueueInput): Promise<EnqueueOutcome[]> {
    const now = Date.now();
    let outcomes: EnqueueOutcome[];
    try {
      outcomes = this.transaction(() =>
        enqueueAll(input, {
          store: this.store,
          limits: this.settings.limits,
          serverConnected: this.servers.anyConnected(),
          now,
          onStored: (from, rid) => this.ready?.add(from, rid),
        }),
      );
    } catch (error) {
      // Nothing was stored (the transaction rolled back): every request gets a typed error.
      console.error(JSON.stringify({ evt: "queue.enqueue_failed", error: String(error) }));
      this.ready = undefined;
      const failure = { code: ERROR_CODE.internal, message: "internal error" };
      return input.requests.map((r) => ({ id: r.id, ok: false, error: failure }));
    }
    await this.settle(now);
    return outcomes;
  }

  async cancel(input: { queue: string; from: string; id: string }): Promise<void> {
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

  async stats(): Promise<QueueStats> {
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
    };
    server.serializeAttachment(attachment);
    this.servers.invalidate();
    send(server, encodeFrame(welcomeFrame(identity, queue, this.settings.limits)));
    await this.settle(now);
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const conn = readServerAttachment(ws.deserializeAttachment());
    if (conn === undefined) {
      closeQuietly(ws, CLOSE_CODE.badRequest, "unknown connection");
      return;
    }
    const now = Date.now();
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
    this.connectionGone(ws);
    const sendable = code === CLOSE_CODE.normal || (code >= 3000 && code <= 4999);
    closeQuietly(ws, sendable ? code : CLOSE_CODE.normal, "closing");
    await this.settle(Date.now());
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.connectionGone(ws);
    await this.settle(Date.now());
  }

  /** Ends expired requests, reclaims ran-out leases, purges old ids, retries deliveries. */
  override async alarm(): Promise<void> {
    this.alarmAt = null;
    const now = Date.now();
    this.transaction(() => {
      this.lifecycle.expireDue(now);
      this.lifecycle.reclaimEndedLeases(now);
      this.store.purge(now, this.settings.limits.dedupWindowMs);
    });
    await this.settle(now);
    await this.delivery.flush(Date.now());
    await this.scheduleAlarm();
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
    this.transaction(() => {
      if (!this.orphansReclaimed) this.lifecycle.reclaimOrphanLeases(now);
      this.orphansReclaimed = true;
      dispatchReady({
        ...this.parts(),
        ready: this.readyIndex(),
        limits: this.settings.limits,
        queue: this.store.queueName() ?? "",
        now,
      });
    });
    this.outbox.flush();
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
    const next = nextAlarm(this.store.timers(this.settings.limits.dedupWindowMs));
    if (next === undefined) return;
    if (this.alarmAt === undefined) this.alarmAt = await this.ctx.storage.getAlarm();
    if (this.alarmAt !== null && this.alarmAt <= next) return;
    this.alarmAt = next;
    await this.ctx.storage.setAlarm(next);
  }

  private transaction<T>(fn: () => T): T {
    return this.ctx.storage.transactionSync(fn);
  }
}
