/**
 * `connect()` and the WebSocket Peer it returns: one client socket for requests (through the
 * Requester) and one server socket per served queue and partition (a PartitionedService over
 * SocketServices), with a shared status feed.
 * With `transport: "http"` connect() hands over to http-peer.ts instead (same Peer interface,
 * peer-api.ts). The public entry of the SDK; re-exported by index.ts.
 */
import { type Body, EdgeMQError, ERROR_CODE, type Frame } from "../protocol/index.js";
import { type BackoffOptions, DEFAULT_BACKOFF } from "./backoff.js";
import { Connection } from "./connection.js";
import type { FetchLike } from "./http-link.js";
import { connectHttp } from "./http-peer.js";
import { PartitionedService } from "./partitioned-service.js";
import { checkServe, drainPeer, type Peer, type Service } from "./peer-api.js";
import { explainRefusal } from "./refusal.js";
import { Requester, type RequestOptions } from "./requester.js";
import type { Handler, ServeOptions } from "./service.js";
import { type Status, StatusFeed } from "./status.js";
import { type Credentials, connectUrl, serveUrl, subprotocols } from "./url.js";
import { resolveWebSocket, type WebSocketConstructor } from "./websocket.js";

export type { Peer, Service } from "./peer-api.js";

export interface ConnectOptions {
  /** Dev mode: the identity this peer declares (sent as query `identity`). */
  identity?: string;
  /** Signed mode: a token naming the identity (sent as a WebSocket subprotocol, never in the URL). */
  token?: string;
  /**
   * `"websocket"` (the default): one socket for requests and one per served queue.
   * `"http"`: plain HTTP calls (the HTTP API, docs/http-api.md), for networks that block
   * WebSockets; same API and guarantees, with long-polls instead of pushed frames.
   */
  transport?: "websocket" | "http";
  /** HTTP transport: a fetch function; default the platform's globalThis.fetch. */
  fetch?: FetchLike;
  /** A WebSocket constructor; default globalThis.WebSocket, else the `ws` package in Node. */
  WebSocket?: WebSocketConstructor;
  /** Full-jitter backoff bounds for reconnecting, or HTTP retries (defaults 100 ms and 10 s). */
  reconnect?: { minDelayMs?: number; maxDelayMs?: number };
  /**
   * Most unfinished requests this peer holds (sent, or queued while disconnected). Past it,
   * request() rejects at once with EdgeMQError `too_many_in_flight`. Default 10,000.
   */
  maxPendingRequests?: number;
}

export const DEFAULT_MAX_PENDING_REQUESTS = 10_000;
/** Slack after a request's timeout before the SDK's own backstop rejects it with `timeout`. */
export const BACKSTOP_GRACE_MS = 2_000;

/** Connects to the relay at `url`; resolves after the relay's welcome, rejects if that fails. */
export async function connect(url: string, options: ConnectOptions = {}): Promise<Peer> {
  const credentials: Credentials = { identity: options.identity, token: options.token };
  const backoff: BackoffOptions = {
    minDelayMs: options.reconnect?.minDelayMs ?? DEFAULT_BACKOFF.minDelayMs,
    maxDelayMs: options.reconnect?.maxDelayMs ?? DEFAULT_BACKOFF.maxDelayMs,
  };
  const maxPending = options.maxPendingRequests ?? DEFAULT_MAX_PENDING_REQUESTS;
  const transport = options.transport ?? "websocket";
  if (transport === "http") {
    const graceMs = BACKSTOP_GRACE_MS;
    return connectHttp({ url, credentials, fetch: options.fetch, backoff, maxPending, graceMs });
  }
  if (transport !== "websocket") {
    throw new EdgeMQError(ERROR_CODE.badRequest, 'transport must be "websocket" or "http"');
  }
  const address = connectUrl(url, credentials);
  const WebSocket = await resolveWebSocket(options.WebSocket);
  const peer = new SocketPeer({ url, address, credentials, WebSocket, backoff, maxPending });
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
  credentials: Credentials;
  WebSocket: WebSocketConstructor;
  backoff: BackoffOptions;
  maxPending: number;
}

export class SocketPeer implements Peer {
  /** This peer's identity, as the relay established it. */
  identity = "";
  /** @internal Settles with the client socket's first welcome. */
  readonly opened: Promise<void>;
  readonly #setup: PeerSetup;
  readonly #feed = new StatusFeed();
  readonly #requester: Requester;
  readonly #connection: Connection;
  readonly #services = new Set<PartitionedService>();
  #closing: Promise<void> | undefined;

  constructor(setup: PeerSetup) {
    this.#setup = setup;
    this.#requester = new Requester({
      send: (frame) => this.#connection.send(frame),
      limits: () => this.#connection.limits,
      maxPending: setup.maxPending,
      graceMs: BACKSTOP_GRACE_MS,
    });
    this.#connection = new Connection({
      url: setup.address,
      protocols: subprotocols(setup.credentials),
      WebSocket: setup.WebSocket,
      backoff: setup.backoff,
      events: {
        welcome: (frame, reconnected) => {
          this.identity = frame.identity;
          if (reconnected) this.#requester.resend();
        },
        frame: (frame) => this.#onFrame(frame),
        status: (status) => this.#feed.emit(status),
        terminated: (error) => {
          this.#requester.rejectAll(error);
          this.#feed.emit({ type: "error", error });
        },
      },
    });
    this.opened = this.#connection.opened.then(() => {});
  }

  /** Sends `body` to `queue` and resolves with the reply body (same kind, same content). */
  request(queue: string, body?: Body, options?: RequestOptions): Promise<Body> {
    return this.#requester.request(queue, body, options);
  }

  /** Serves `queue` on its own socket: `handler`'s return value is each reply's body. */
  serve(queue: string, handler: Handler, options: ServeOptions = {}): Service {
    if (this.#closing) throw new EdgeMQError(ERROR_CODE.closed, "peer is closed");
    const max = this.#connection.limits.maxConcurrency;
    const concurrency = checkServe(queue, options, max);
    const { url, credentials } = this.#setup;
    const service = new PartitionedService({
      queue,
      handler,
      concurrency,
      urlFor: (partition) => serveUrl(url, queue, credentials, partition),
      protocols: subprotocols(this.#setup.credentials),
      WebSocket: this.#setup.WebSocket,
      backoff: this.#setup.backoff,
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
    await this.#connection.close();
    this.#feed.emit({ type: "closed" });
  }

  #onFrame(frame: Frame): void {
    switch (frame.type) {
      case "accepted":
      case "reply":
        this.#requester.handle(frame);
        return;
      case "error":
        if (frame.id !== undefined) this.#requester.handle(frame);
        else this.#feed.emit({ type: "error", error: EdgeMQError.fromWire(frame) });
        return;
      default:
        return;
    }
  }
}
