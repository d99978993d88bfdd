/**
 * QueueDO: one per named queue. Stores requests in SQLite, holds server sockets (Hibernation API),
 * dispatches fairly with leases, ends requests at their deadline (one multiplexed alarm) and hands
 * outcomes to the exchange. A thin shell: platform callbacks and RPC methods delegate to the
 * modules beside it (queue-state.ts holds the parts, queue-settle.ts runs after every change,
 * server-upgrade.ts accepts servers, http-server-rpc.ts serves HTTP servers). The front door
 * forwards server upgrades to `fetch`, the ExchangeDO calls `enqueue` / `cancel` by RPC.
 */
import { DurableObject } from "cloudflare:workers";
import {
  CLOSE_CODE,
  ERROR_CODE,
  encodeFrame,
  PING_MESSAGE,
  PONG_MESSAGE,
} from "../../protocol/index.js";
import type { Env } from "../../src/env.js";
import {
  type EnqueueInput,
  type EnqueueOutcome,
  FORWARD_HEADERS,
  LINK_ROLE,
  type QueueRpc,
} from "../shared/contracts.js";
import type {
  HttpAbandonInput,
  HttpCancelAnswer,
  HttpCancelInput,
  HttpExtendAnswer,
  HttpExtendInput,
  HttpExtendManyAnswer,
  HttpExtendManyInput,
  HttpFailInput,
  HttpPresenceAnswer,
  HttpPresenceInput,
  HttpQueueRpc,
  HttpReplyAnswer,
  HttpReplyInput,
  HttpTakeAnswer,
  HttpTakeInput,
} from "../shared/http-contracts.js";
import { rateLimitedMessage } from "../shared/token-bucket.js";
import { UNREADABLE_CLOSE_REASON, UNREADABLE_REFUSAL } from "../shared/unreadable-frames.js";
import { enqueueAll } from "./enqueue.js";
import { send } from "./frame-outbox.js";
import { HttpServerRpc } from "./http-server-rpc.js";
import { readLinkAttachment } from "./link-attachment.js";
import { LinkEnqueues } from "./link-enqueues.js";
import { cancelRequests, handleLinkMessage } from "./link-messages.js";
import { acceptLink } from "./link-upgrade.js";
import { QueueSettler } from "./queue-settle.js";
import { QueueState } from "./queue-state.js";
import { migrateQueue } from "./schema.js";
import { readServerAttachment, type ServerAttachment } from "./server-attachment.js";
import { closeServer, serverGone, serverRefusal } from "./server-expiry.js";
import {
  type DecodedMessage,
  decodeServerMessage,
  earlyOutcomes,
  handleServerMessage,
  unreadableFrames,
} from "./server-messages.js";
import { closeQuietly } from "./server-socket.js";
import { acceptServer } from "./server-upgrade.js";

/** What a queue partition holds now (GET /v1/queues/:queue/stats). */
export interface QueueStats {
  /** Requests waiting for a server. */
  queued: number;
  /** Requests in a server's hands. */
  leased: number;
  /** WebSocket server connections. */
  servers: number;
  /** Whether an HTTP server took, or said it was present, in the last 15 s. */
  httpServers: boolean;
}

export class QueueDO extends DurableObject<Env> implements QueueRpc, HttpQueueRpc {
  private readonly state: QueueState;
  private readonly rt: QueueSettler;
  private readonly http: HttpServerRpc;
  /** Server sockets' attachments, read once per socket and wake. */
  private readonly serverAttachments = new WeakMap<WebSocket, ServerAttachment>();
  /** Group commit for requests sent on queue links (link-enqueues.ts). */
  private readonly linkEnqueues: LinkEnqueues;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.state = new QueueState(ctx, env);
    this.rt = new QueueSettler(ctx, this.state);
    this.http = new HttpServerRpc(this.rt);
    this.linkEnqueues = new LinkEnqueues(this.rt);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_MESSAGE, PONG_MESSAGE));
    void ctx.blockConcurrencyWhile(async () => {
      migrateQueue(ctx.storage.sql, (fn) => ctx.storage.transactionSync(fn));
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
    const state = this.state;
    const list: readonly EnqueueInput[] = Array.isArray(inputs) ? inputs : [];
    const first = list[0];
    if (first !== undefined) state.chooseStore(first.queue);
    state.writeHeld();
    const now = Date.now();
    let outcomes: EnqueueOutcome[][];
    try {
      outcomes = state.transaction(() =>
        list.map((input) =>
          enqueueAll(input, {
            store: state.store,
            limits: state.settings.limits,
            serverConnected: state.servers.anyConnected() || state.takers.present(now),
            now,
            onStored: (from, rid) => state.ready?.add(from, rid),
            viaHttp: typeof input.viaHttp === "boolean" ? input.viaHttp : undefined,
            earlyCancels: state.earlyCancels,
            queuePartitions: state.settings.queuePartitions,
          }),
        ),
      );
    } catch (error) {
      // Nothing was stored (the transaction rolled back): every request gets a typed error.
      console.error(JSON.stringify({ evt: "queue.enqueue_failed", error: String(error) }));
      state.ready = undefined;
      const failure = { code: ERROR_CODE.internal, message: "internal error" };
      return list.map((input) =>
        (Array.isArray(input.requests) ? input.requests : []).map((r) => ({
          id: r.id,
          ok: false,
          error: failure,
        })),
      );
    }
    await this.rt.settle(now);
    return outcomes;
  }

  /** Client `from` gives up its requests `ids` (one transaction, one settle). */
  async cancel(input: { queue: string; from: string; ids: string[] }): Promise<void> {
    this.state.chooseStore();
    this.state.writeHeld();
    const now = Date.now();
    cancelRequests(this.state, input.from, input.ids, now);
    await this.rt.settle(now);
  }

  /** HTTP API: client `from` cancels its request `id`, taking a token from its bucket first. */
  async httpCancel(input: HttpCancelInput): Promise<HttpCancelAnswer> {
    const decision = this.state.rateLimiter.take(input.from);
    if (!decision.ok) {
      const error = {
        code: ERROR_CODE.rateLimited,
        message: rateLimitedMessage(decision.retryAfterMs),
      };
      return { ok: false, error, retryAfterMs: decision.retryAfterMs };
    }
    await this.cancel({ queue: input.queue, from: input.from, ids: [input.id] });
    return { ok: true };
  }

  /** HTTP API: leases the next request to HTTP server `identity`, waiting up to `waitMs`. */
  take(input: HttpTakeInput): Promise<HttpTakeAnswer> {
    this.state.writeHeld();
    return this.http.take(input);
  }

  /** HTTP API: the caller of take `takeId` went away (its request to the front door aborted). */
  abandonTake(input: HttpAbandonInput): Promise<void> {
    this.state.writeHeld();
    return this.http.abandonTake(input);
  }

  /** HTTP API: HTTP server `identity` replies to relay id `id` (lessee, once, before deadline). */
  httpReply(input: HttpReplyInput): Promise<HttpReplyAnswer> {
    this.state.writeHeld();
    return this.http.httpReply(input);
  }

  /** HTTP API: HTTP server `identity` fails relay id `id` (same rules as a reply). */
  httpFail(input: HttpFailInput): Promise<HttpReplyAnswer> {
    this.state.writeHeld();
    return this.http.httpFail(input);
  }

  /** HTTP API: HTTP server `identity` extends its lease on relay id `id`. */
  httpExtend(input: HttpExtendInput): Promise<HttpExtendAnswer> {
    this.state.writeHeld();
    return this.http.httpExtend(input);
  }

  /** HTTP API: HTTP server `identity` extends its leases on several relay ids. */
  httpExtendMany(input: HttpExtendManyInput): Promise<HttpExtendManyAnswer> {
    this.state.writeHeld();
    return this.http.httpExtendMany(input);
  }

  /** HTTP API: HTTP server `identity` stopped serving this queue (its waiting takes end). */
  httpLeave(input: HttpPresenceInput): Promise<HttpPresenceAnswer> {
    this.state.writeHeld();
    return this.http.httpLeave(input);
  }

  /** HTTP API: HTTP server `identity`, busy, still serves this queue (presence). */
  httpPresence(input: HttpPresenceInput): Promise<HttpPresenceAnswer> {
    this.state.writeHeld();
    return this.http.httpPresence(input);
  }

  /** What the partition holds now; `queue` names it when it has seen no request yet. */
  async stats(queue?: string): Promise<QueueStats> {
    const state = this.state;
    state.chooseStore(queue);
    state.writeHeld();
    return {
      ...state.store.counts(),
      servers: state.servers.all().length,
      httpServers: state.takers.present(Date.now()),
    };
  }

  /** Accepts a server's WebSocket upgrade, or a client's queue link, forwarded by the front door. */
  override fetch(request: Request): Promise<Response> {
    this.state.writeHeld();
    if (request.headers.get(FORWARD_HEADERS.role) === LINK_ROLE) {
      return acceptLink(this.rt, request);
    }
    return acceptServer(this.rt, request);
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    // Keep-alive text is matched before the codec (docs/protocol.md): `ping` never gets here
    // (auto-response), and a peer's `pong` is no frame, readable or not.
    if (message === PONG_MESSAGE) return;
    const state = this.state;
    state.chooseStore();
    const current = state.links.bySocket(ws);
    if (current !== undefined) {
      // Writes held stay held through a link's requests and acks (link-messages.ts).
      return handleLinkMessage(this.rt, this.linkEnqueues, ws, current.attachment, message);
    }
    // A link that is not current (replaced: already closed with 4001) reads as no server either.
    const conn = this.serverAttachments.get(ws) ?? this.readServer(ws);
    if (conn === undefined) {
      state.writeHeld();
      closeQuietly(ws, CLOSE_CODE.lostState, "unknown connection; reconnect");
      return;
    }
    state.servers.heard(conn.connId);
    const now = Date.now();
    const refusal = serverRefusal(conn, state.settings.devMode, now);
    if (refusal !== undefined) {
      state.writeHeld();
      state.transaction(() => closeServer(state.expiryDeps(now), ws, conn, refusal));
      await this.rt.settle(now);
      return;
    }
    const deps = { ...state.parts(), limits: state.settings.limits, now };
    const decoded = decodeServerMessage(message, deps.limits);
    if (state.unreadable.exceeded(ws, unreadableFrames(decoded), now)) {
      await this.closeUnreadable(ws, conn, now);
      return;
    }
    // Answers to link requests go down the link before this event writes anything, even the
    // writes earlier events held (queue-state.ts holdWrites): the client gets the outcome (and
    // the request's held `accepted`) without waiting for that commit. It has its final answer
    // then, so a relay that dies before the commit leaves it nothing to miss. A message of such
    // answers only, after which there is nothing to do, leaves the held writes held.
    const early = this.sendEarly(deps, conn, decoded);
    const onlyEarly = early.length > 0 && early.length === (decoded?.length ?? 1);
    if (!onlyEarly || !this.rt.nothingAfterEarly()) state.writeHeld();
    const answered = new Set(early.map((e) => e.id));
    try {
      if (early.length === 0 || early.length < (decoded?.length ?? 1)) {
        state.transaction(() => handleServerMessage(deps, ws, conn, decoded, answered));
      }
      for (const { row, frame } of early) {
        state.servers.release(row.leaseConn);
        state.early.add(row.rid, frame, now);
      }
    } catch (error) {
      console.error(JSON.stringify({ evt: "queue.message_failed", error: String(error) }));
      send(
        ws,
        encodeFrame({ type: "error", code: ERROR_CODE.internal, message: "internal error" }),
      );
    }
    await this.rt.settle(now, answered.size > 0);
  }

  /**
   * Server `ws` went past its budget of unreadable frames: its message is refused whole, it is
   * closed with 1008, and what it held goes back to the queue (as when a server disconnects).
   */
  private async closeUnreadable(ws: WebSocket, conn: ServerAttachment, now: number) {
    const state = this.state;
    state.writeHeld();
    state.outbox.push(ws, UNREADABLE_REFUSAL);
    state.outbox.flush();
    const reason = UNREADABLE_CLOSE_REASON;
    state.transaction(() =>
      closeServer(state.expiryDeps(now), ws, conn, reason, CLOSE_CODE.policy),
    );
    await this.rt.settle(now);
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    this.state.chooseStore();
    this.state.writeHeld();
    this.connectionGone(ws);
    const sendable = code === CLOSE_CODE.normal || (code >= 3000 && code <= 4999);
    closeQuietly(ws, sendable ? code : CLOSE_CODE.normal, "closing");
    await this.rt.settle(Date.now());
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.state.chooseStore();
    this.state.writeHeld();
    this.connectionGone(ws);
    await this.rt.settle(Date.now());
  }

  /** The storage alarm (durable mode's timers, and server token expiries in both modes). */
  override alarm(): Promise<void> {
    this.state.writeHeld();
    return this.rt.alarmFired();
  }

  /** A server socket's attachment, read once per socket and wake (`ready` updates that object). */
  private readServer(ws: WebSocket): ServerAttachment | undefined {
    const conn = readServerAttachment(ws.deserializeAttachment());
    if (conn !== undefined) this.serverAttachments.set(ws, conn);
    return conn;
  }

  /**
   * Durable mode: answers to requests that came on an open link go down the link now, before
   * anything is written; the caller writes them later (early-finishes.ts). Returns those sent.
   */
  private sendEarly(
    deps: Parameters<typeof earlyOutcomes>[0],
    conn: ServerAttachment,
    decoded: DecodedMessage,
  ): ReturnType<typeof earlyOutcomes> {
    if (this.state.store.mode !== "durable" || this.state.links.size === 0) return [];
    return this.state.delivery.sendEarly(earlyOutcomes(deps, conn, decoded));
  }

  private connectionGone(ws: WebSocket): void {
    const attachment: unknown = ws.deserializeAttachment();
    const link = readLinkAttachment(attachment);
    if (link !== undefined) {
      // Its unacked outcomes are due again: the settle after this sends them on.
      if (this.state.links.remove(link.identity, link.connId)) {
        this.state.delivery.release(link.identity, link.connId);
      }
      return;
    }
    const conn = readServerAttachment(attachment);
    if (conn === undefined) return;
    const deps = this.state.expiryDeps(Date.now());
    this.state.transaction(() => serverGone(deps, conn));
  }
}
