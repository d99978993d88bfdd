/**
 * `connect()` and the WebSocket Peer it returns: one client socket for requests (through the
 * Requester), a queue link per queue requested (queue-links.ts; route "queue"), and one server
 * socket per served queue and partition (a PartitionedService over SocketServices), with a shared
 * status feed. The peer picks each request frame's route: its queue's link when open, else
 * /v1/connect.
 * With `transport: "http"` connect() hands over to http-peer.ts instead (same Peer interface,
 * peer-api.ts), and with `"auto"` to whichever connects (auto-transport.ts). The public entry of
 * the SDK; re-exported by index.ts.
 */
import {
  type AckFrame,
  type CancelFrame,
  EdgeMQError,
  ERROR_CODE,
  type Frame,
  PATHS,
  type ReceivedBody,
  type RequestFrame,
  type SendBody,
} from "../protocol/index.js";
import { connectAuto } from "./auto-transport.js";
import { type BackoffOptions, backoffOptions } from "./backoff.js";
import { refusalOf } from "./close-reasons.js";
import { Connection } from "./connection.js";
import type { FetchLike } from "./http-link.js";
import { connectHttp } from "./http-peer.js";
import { LoneGate } from "./lone-gate.js";
import { PartitionedService } from "./partitioned-service.js";
import {
  checkServe,
  drainPeer,
  handlerOf,
  type Peer,
  replyAs,
  type Service,
  wholeReplyAs,
} from "./peer-api.js";
import { QueueLinks } from "./queue-links.js";
import { explainRefusal } from "./refusal.js";
import { RelayReachability } from "./relay-reachability.js";
import { type ReceivedReply, Requester, type RequestOptions, type Route } from "./requester.js";
import type { Handler, ServeOptions } from "./service.js";
import { type Status, StatusFeed } from "./status.js";
import {
  checkRelayUrl,
  connectUrl,
  type LiveCredentials,
  liveCredentials,
  queueConnectUrl,
  renewToken,
  serveUrl,
} from "./url.js";
import { resolveWebSocket, type WebSocketConstructor } from "./websocket.js";

export type { Peer, Service } from "./peer-api.js";

/** connect()'s options: every one may be left out (or undefined) for its default. */
export interface ConnectOptions {
  /** Dev mode: the identity this peer declares (sent as query `identity`). */
  identity?: string | undefined;
  /** Signed mode: a token naming the identity (sent as a WebSocket subprotocol, never in the URL). */
  token?: string | undefined;
  /**
   * `"websocket"` (the default): one socket for requests and one per served queue.
   * `"http"`: plain HTTP calls (the HTTP API, docs/http-api.md), for networks that block
   * WebSockets; same API and guarantees, with long-polls instead of pushed frames.
   * `"auto"`: a WebSocket when one is welcomed within 10 s, else HTTP when the relay answers it
   * (auto-transport.ts); `peer.transport` says which.
   */
  transport?: "websocket" | "http" | "auto" | undefined;
  /**
   * WebSocket transport: how requests reach their queue. `"queue"` (the default): a queue link per
   * queue this peer sends requests to (one more socket each, opened at the first request), on
   * which requests and their outcomes skip the relay's exchange; the first requests, and every
   * request while a link is down, go over /v1/connect, and a queue whose link is refused (an older
   * relay, a token without that queue) stays on /v1/connect. `"exchange"`: one socket for all
   * queues (/v1/connect). Ignored by the HTTP transport.
   */
  route?: "queue" | "exchange" | undefined;
  /** HTTP transport: a fetch function; default the platform's globalThis.fetch. */
  fetch?: FetchLike | undefined;
  /** A WebSocket constructor; default globalThis.WebSocket, else the `ws` package in Node. */
  WebSocket?: WebSocketConstructor | undefined;
  /**
   * Full-jitter backoff bounds for reconnecting, or HTTP retries (defaults 100 ms and 10 s); each
   * a finite number of at least 1 ms, else connect() rejects with `bad_request`.
   */
  reconnect?: { minDelayMs?: number | undefined; maxDelayMs?: number | undefined } | undefined;
  /**
   * Most unfinished requests this peer holds (sent, or queued while disconnected). Past it,
   * request() rejects at once with EdgeMQError `too_many_in_flight`. Default 10,000; a positive
   * integer, else connect() rejects with `bad_request`.
   */
  maxPendingRequests?: number | undefined;
}

/** connect()'s default `maxPendingRequests`: unfinished requests one peer holds at most. */
export const DEFAULT_MAX_PENDING_REQUESTS = 10_000;
const PEER_CLOSED = new EdgeMQError(ERROR_CODE.closed, "close() was called");
/** Slack after a request's timeout before the SDK's own backstop rejects it with `timeout`. */
export const BACKSTOP_GRACE_MS = 2_000;

/**
 * connect()'s `maxPendingRequests`, default 10,000. Throws `bad_request` unless it is a positive
 * integer: 0 or less connected, then refused every request with `too_many_in_flight`.
 */
function maxPendingOf(maxPendingRequests: number | undefined): number {
  const maxPending = maxPendingRequests ?? DEFAULT_MAX_PENDING_REQUESTS;
  if (!Number.isInteger(maxPending) || maxPending < 1) {
    throw new EdgeMQError(
      ERROR_CODE.badRequest,
      `maxPendingRequests must be a positive integer (not ${String(maxPending)})`,
    );
  }
  return maxPending;
}

/** Connects to the relay at `url`; resolves after the relay's welcome, rejects if that fails. */
export async function connect(url: string, options: ConnectOptions = {}): Promise<Peer> {
  checkRelayUrl(url);
  const credentials = liveCredentials(options.identity, options.token);
  const backoff = backoffOptions(options.reconnect);
  const maxPending = maxPendingOf(options.maxPendingRequests);
  const route = options.route ?? "queue";
  if (route !== "queue" && route !== "exchange") {
    throw new EdgeMQError(ERROR_CODE.badRequest, 'route must be "queue" or "exchange"');
  }
  const transport = options.transport ?? "websocket";
  const overHttp = () =>
    connectHttp({
      url,
      credentials,
      fetch: options.fetch,
      backoff,
      maxPending,
      graceMs: BACKSTOP_GRACE_MS,
    });
  if (transport === "http") return overHttp();
  if (transport !== "websocket" && transport !== "auto") {
    throw new EdgeMQError(ERROR_CODE.badRequest, 'transport must be "websocket", "http" or "auto"');
  }
  const address = connectUrl(url, credentials);
  const setupWith = (WebSocket: WebSocketConstructor): PeerSetup => {
    return { url, address, credentials, WebSocket, backoff, maxPending, route };
  };
  if (transport === "auto") {
    return connectAuto({
      websocket: () => {
        let peer: SocketPeer | undefined;
        let abandoned = false;
        const opened = resolveWebSocket(options.WebSocket).then(async (WebSocket) => {
          if (abandoned) throw new EdgeMQError(ERROR_CODE.closed, "abandoned");
          peer = new SocketPeer(setupWith(WebSocket));
          await peer.opened;
          return peer;
        });
        const abandon = () => {
          abandoned = true;
          void peer?.close();
        };
        return { opened, abandon };
      },
      http: overHttp,
    });
  }
  const peer = new SocketPeer(setupWith(await resolveWebSocket(options.WebSocket)));
  try {
    await peer.opened;
  } catch (error) {
    throw error instanceof EdgeMQError
      ? await explainRefusal(url, credentials, backoff, error)
      : error;
  }
  return peer;
}

interface PeerSetup {
  url: string;
  address: string;
  credentials: LiveCredentials;
  WebSocket: WebSocketConstructor;
  backoff: BackoffOptions;
  maxPending: number;
  route: "queue" | "exchange";
}

export class SocketPeer implements Peer {
  /** This peer's identity, as the relay established it. */
  identity = "";
  readonly transport = "websocket";
  /** @internal Settles with the client socket's first welcome. */
  readonly opened: Promise<void>;
  readonly #setup: PeerSetup;
  readonly #feed = new StatusFeed();
  readonly #requester: Requester;
  readonly #connection: Connection;
  /** Undefined with route "exchange". */
  readonly #links: QueueLinks | undefined;
  readonly #services = new Set<PartitionedService>();
  /** Shared by all of this peer's sockets: one's welcome wakes the others' reconnect delays. */
  readonly #reachability = new RelayReachability();
  /** Shared by all of this peer's services: a lone request runs alone in the peer (lone-gate.ts). */
  readonly #gate = new LoneGate();
  #closing: Promise<void> | undefined;
  /** Why the client socket ended for good, when it did without close(). */
  #ended: EdgeMQError | undefined;

  constructor(setup: PeerSetup) {
    this.#setup = setup;
    this.#requester = new Requester({
      send: (frame) => this.#send(frame),
      sendAck: (frame, route) => this.#sendAck(frame, route),
      limits: () => this.#connection.limits,
      maxPending: setup.maxPending,
      graceMs: BACKSTOP_GRACE_MS,
    });
    this.#connection = new Connection({
      url: setup.address,
      credentials: setup.credentials,
      WebSocket: setup.WebSocket,
      backoff: setup.backoff,
      reachability: this.#reachability,
      explainRefusal: () => this.#explainHidden(),
      busy: () => this.#requester.size > 0,
      events: {
        welcome: (frame, reconnected) => {
          this.identity = frame.identity;
          // Re-send all but what went on a link that is open now (it re-sends on its own).
          if (reconnected) {
            this.#requester.resend((request, last) => {
              return last === undefined || last !== this.#links?.openRoute(request.queue);
            });
          }
        },
        frame: (frame) => this.#onFrame(frame, PATHS.connect),
        status: (status) => this.#feed.emit(status),
        terminated: (error) => {
          this.#ended = error;
          this.#requester.rejectAll(error);
          void this.#links?.close();
          this.#feed.emit({ type: "error", error });
        },
      },
    });
    this.#links = setup.route === "queue" ? this.#openLinks() : undefined;
    this.opened = this.#connection.opened.then(() => {});
  }

  /**
   * Why reconnects keep failing where the platform hides the HTTP status (a bare 1006): the
   * relay's answer to the same credentials over HTTP tells a refusal (an expired token) from a drop.
   */
  #explainHidden(): Promise<EdgeMQError | undefined> {
    const { url, credentials, backoff } = this.#setup;
    const hidden = new EdgeMQError(ERROR_CODE.closed, "reconnect failed (close 1006)");
    return explainRefusal(url, credentials, backoff, hidden);
  }

  /**
   * Why a service's or queue link's reconnects keep failing as a bare 1006: the credentials
   * (#explainHidden), then its route over HTTP, which refuses a token without the role or the
   * queue (403) as the upgrade did, where a browser showed only 1006 and it retried forever.
   */
  async #explainRoute(queue: string, route: "serve" | "connect"): Promise<EdgeMQError | undefined> {
    const hidden = await this.#explainHidden();
    if (hidden === undefined || refusalOf(hidden) !== undefined) return hidden;
    const { url, credentials, backoff } = this.#setup;
    const path = `/v1/queues/${encodeURIComponent(queue)}/${route}`;
    return explainRefusal(url, credentials, backoff, hidden, path);
  }

  /**
   * Signed mode: the token this peer's sockets use from now on, naming this peer's identity
   * (bad_request otherwise). Each open socket keeps its old token until the relay closes it as
   * expired, then reconnects with this one; give it before the old one expires.
   */
  setToken(token: string): void {
    // A peer that ended for good (a 4401 with no renewal before it) reconnects no more.
    this.#refuseIfEnded("setToken");
    renewToken(this.#setup.credentials, token, this.identity);
  }

  /**
   * Throws `closed` once the peer ended for good (replaced, its token expired: its requests are
   * refused) or close() was called: `connect()` again. setToken() and serve() call it, so a server
   * socket is not opened for a peer whose requests already fail.
   */
  #refuseIfEnded(call: string): void {
    const ended = this.#ended ?? (this.#closing === undefined ? undefined : PEER_CLOSED);
    if (ended === undefined) return;
    const message = `${call}: this peer has ended (${ended.message}): connect() again`;
    throw new EdgeMQError(ERROR_CODE.closed, message);
  }

  /** Sends `body` to `queue` and resolves with the reply body (same kind, same content). */
  request<T = ReceivedBody>(queue: string, body?: SendBody, options?: RequestOptions): Promise<T> {
    return replyAs<T>(this.#requester.request(queue, body, options));
  }

  /** As request(), resolving with the whole reply: its body, media type and headers. */
  requestReply<T = ReceivedBody>(
    queue: string,
    body?: SendBody,
    options?: RequestOptions,
  ): Promise<ReceivedReply<T>> {
    return wholeReplyAs<T>(this.#requester.requestReply(queue, body, options));
  }

  /** Serves `queue` on its own socket: `handler`'s return value is each reply's body. */
  serve<T = ReceivedBody>(
    queue: string,
    typedHandler: Handler<T>,
    options: ServeOptions = {},
  ): Service {
    const handler = handlerOf(typedHandler);
    if (this.#closing) throw new EdgeMQError(ERROR_CODE.closed, "peer is closed");
    this.#refuseIfEnded(`serve(${queue})`);
    const max = this.#connection.limits.maxConcurrency;
    const concurrency = checkServe(queue, handler, options, max, this.#services);
    const { url, credentials } = this.#setup;
    const service = new PartitionedService({
      queue,
      handler,
      concurrency,
      urlFor: (partition) => serveUrl(url, queue, credentials, partition),
      credentials: this.#setup.credentials,
      WebSocket: this.#setup.WebSocket,
      backoff: this.#setup.backoff,
      reachability: this.#reachability,
      gate: this.#gate,
      explainRefusal: () => this.#explainRoute(queue, "serve"),
      status: (status) => this.#feed.emit(status),
      closed: (closed) => this.#services.delete(closed),
    });
    this.#services.add(service);
    return service;
  }

  /** Connection statuses from now on, ending after `closed`. */
  status(): AsyncIterable<Status> {
    return this.#feed.subscribe();
  }

  /**
   * Drains, then closes. New request() calls reject at once with `closed`; the unfinished ones
   * settle as usual (each is bounded by its timeout, plus a 2 s grace for the local backstop),
   * every service finishes the requests it holds (service.close()), and then the sockets close.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #shutdown(): Promise<void> {
    await drainPeer(this.#requester, this.#services);
    this.#requester.flushAcks();
    await Promise.all([this.#links?.close(), this.#connection.close()]);
    this.#feed.emit({ type: "closed" });
  }

  #openLinks(): QueueLinks {
    const { url, credentials } = this.#setup;
    return new QueueLinks({
      urlFor: (queue) => queueConnectUrl(url, queue, credentials),
      credentials,
      WebSocket: this.#setup.WebSocket,
      backoff: this.#setup.backoff,
      reachability: this.#reachability,
      busy: () => this.#requester.size > 0,
      explainRefusal: (queue) => this.#explainRoute(queue, "connect"),
      pendingQueues: () => this.#requester.pendingQueues(),
      flushAcks: () => this.#requester.flushAcks(),
      events: {
        // First welcome: send what never went out; after a drop: re-send all of the queue's.
        welcome: (queue, reconnected) =>
          this.#requester.resend((request, last) => {
            return request.queue === queue && (reconnected || last === undefined);
          }),
        frame: (frame, queue, route) => this.#onFrame(frame, route, queue),
        // The queue is exchange-only now: its requests go (again) over /v1/connect.
        terminated: (queue) => this.#requester.resend((request) => request.queue === queue),
        status: (status) => this.#feed.emit(status),
      },
    });
  }

  /** A request or cancel goes on its queue's link when open (opening one at need), else here. */
  #send(frame: RequestFrame | CancelFrame): Route | undefined {
    const links = this.#links;
    if (links && frame.queue !== undefined) {
      if (frame.type === "request") links.ensure(frame.queue);
      const route = links.openRoute(frame.queue);
      if (route !== undefined && links.send(route, frame)) return route;
    }
    return this.#connection.send(frame) ? PATHS.connect : undefined;
  }

  /** An ack goes where its outcomes came from; dropped when that link is gone (re-delivered). */
  #sendAck(frame: AckFrame, route: Route): boolean {
    if (route === PATHS.connect) return this.#connection.send(frame);
    return this.#links?.send(route, frame) === true;
  }

  /** A frame from /v1/connect, or from the link of `queue` (`route` says which socket). */
  #onFrame(frame: Frame, route: Route, queue?: string): void {
    switch (frame.type) {
      case "accepted":
      case "reply":
        this.#requester.handle(frame, route);
        return;
      case "error": {
        if (frame.id !== undefined) {
          this.#requester.handle(frame, route);
          return;
        }
        const error = EdgeMQError.fromWire(frame);
        this.#feed.emit(
          queue === undefined
            ? { type: "error", error }
            : { type: "error", error, queue, link: true },
        );
        return;
      }
      default:
        return;
    }
  }
}
