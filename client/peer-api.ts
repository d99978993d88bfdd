/**
 * The face of a peer and of a served queue, whichever transport carries them (WebSocket:
 * peer.ts and service.ts; HTTP: http-peer.ts and http-service.ts), and the serve() argument
 * checks both transports share. connect() returns a Peer; peer.serve() a Service.
 */
import {
  DEFAULT_LIMITS,
  EdgeMQError,
  ERROR_CODE,
  isQueueName,
  QUEUE_NAME_RULE,
  type ReceivedBody,
  type SendBody,
} from "../protocol/index.js";
import type { ReceivedReply, RequestOptions } from "./requester.js";
import { DEFAULT_CONCURRENCY, type Handler, type ServeOptions } from "./service.js";
import type { Status } from "./status.js";

declare global {
  interface SymbolConstructor {
    readonly asyncDispose: unique symbol;
  }
}

/**
 * A connection to the relay, made by connect(): a client (request()) and a server (serve()) at
 * once. Reconnects by itself until close(); `status()` reports how it goes.
 */
export interface Peer {
  /** This peer's identity, as the relay established it. */
  readonly identity: string;
  /** How this peer reaches the relay (with `transport: "auto"`, the one that connected). */
  readonly transport: "websocket" | "http";
  /**
   * Sends `body` to `queue` and resolves with the reply body (same kind, same content).
   * `request<T>()` reads the reply as a T, which is not checked at run time (as `response.json()`).
   */
  request<T = ReceivedBody>(queue: string, body?: SendBody, options?: RequestOptions): Promise<T>;
  /**
   * As request(), resolving with the whole reply: `{ body, contentType, headers }` (the headers and
   * media type its handler replied with, `reply(body, { headers, contentType })`). The body is
   * request()'s; `requestReply<T>()` reads it as a T, which is not checked at run time. Rejects
   * as request() does.
   */
  requestReply<T = ReceivedBody>(
    queue: string,
    body?: SendBody,
    options?: RequestOptions,
  ): Promise<ReceivedReply<T>>;
  /**
   * Serves `queue`: `handler`'s return value is each reply's body (`reply(body, { headers,
   * contentType })` adds headers and a media type). `serve<T>()` gives the handler
   * each request's body as a T, which is not checked at run time. Throws (bad_request) for a
   * queue this peer serves already, until that service's close() resolved; a TypeError for a
   * handler that is not a function; `closed` once the peer was closed or ended for good (replaced,
   * its token expired).
   */
  serve<T = ReceivedBody>(queue: string, handler: Handler<T>, options?: ServeOptions): Service;
  /**
   * Signed mode: renews this peer's token with one naming the same identity (bad_request
   * otherwise, or for a peer that connected without a token). The next connection, and the next
   * HTTP call, use it; a socket the relay closes because its old token expired (4401) reconnects
   * with it instead of ending. Give it before the old token expires.
   */
  setToken(token: string): void;
  /** Connection statuses from now on, ending after `closed`. */
  status(): AsyncIterable<Status>;
  /**
   * Drains, then closes: new request() calls reject with `closed`, unfinished ones settle as
   * usual, every service finishes the requests it holds. A handler must not await it (it waits
   * for that handler's reply: both would wait until the request's deadline); `void close()`.
   */
  close(): Promise<void>;
  /** close(), so `await using peer = await connect(...)` closes it at the end of its scope. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** A reply as the T the caller names in `request<T>()`: a claim, not checked at run time. */
export function replyAs<T>(reply: Promise<ReceivedBody>): Promise<T> {
  return reply as Promise<unknown> as Promise<T>;
}

/** A whole reply with its body as the T the caller names in `requestReply<T>()`: not checked. */
export function wholeReplyAs<T>(reply: Promise<ReceivedReply>): Promise<ReceivedReply<T>> {
  return reply as Promise<ReceivedReply<unknown>> as Promise<ReceivedReply<T>>;
}

/** A handler of T bodies (`serve<T>()`), as a service calls it with each Body: not checked. */
export function handlerOf<T>(handler: Handler<T>): Handler {
  return handler as unknown as Handler;
}

/** A served queue. */
export interface Service {
  /** The queue it serves. */
  readonly queue: string;
  /**
   * Resolves once the relay accepted this server (welcome, or a first take). On a partitioned
   * queue, once it is connected to every partition (scaling.md), so a `failFast` request of any
   * client finds it. Rejects with the EdgeMQError that ended the service first (`forbidden`: a
   * token without the server role or this queue; `closed`: close() came first), which `status()`
   * reports too; left unread, that rejection is not an unhandled one.
   */
  readonly ready: Promise<void>;
  /** Handlers running or waiting for a slot. */
  readonly inHand: number;
  /**
   * Takes no more requests, finishes (and replies to) those in hand, then resolves. Its own
   * handler must not await it (it waits for that handler's reply); `void close()` there.
   */
  close(): Promise<void>;
  /** close(), so `await using service = peer.serve(...)` closes it at the end of its scope. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * The concurrency serve() runs with, after checking its arguments (checkServeTarget) and the
 * range the protocol allows (1 to 1,000): what it asked for (default 16), capped to the relay's
 * `maxConcurrency`, as the relay caps a larger `ready` itself.
 */
export function checkServe(
  queue: string,
  handler: unknown,
  options: ServeOptions,
  maxConcurrency: number,
  serving: Iterable<Service>,
): number {
  checkServeTarget(queue, handler, serving);
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  const max = DEFAULT_LIMITS.maxConcurrency;
  if (!Number.isSafeInteger(concurrency) || concurrency < 1 || concurrency > max) {
    throw new EdgeMQError(ERROR_CODE.badRequest, `concurrency must be an integer 1 to ${max}`);
  }
  return Math.max(1, Math.min(concurrency, maxConcurrency));
}

/**
 * A valid queue name, not served already by this peer (`serving`: its services not closed yet; a
 * second one would silently replace the first's socket, or compete with it over HTTP), and a
 * handler that is a function (else every request would fail with an SDK internal's message).
 */
function checkServeTarget(queue: string, handler: unknown, serving: Iterable<Service>): void {
  if (!isQueueName(queue)) {
    throw new EdgeMQError(ERROR_CODE.badRequest, `queue must be ${QUEUE_NAME_RULE}`);
  }
  if (typeof handler !== "function") {
    throw new TypeError(`serve(${queue}): the handler must be a function, not ${typeof handler}`);
  }
  for (const service of serving) {
    if (service.queue !== queue) continue;
    throw new EdgeMQError(
      ERROR_CODE.badRequest,
      `already serving queue ${queue} on this peer: await that service's close() first`,
    );
  }
}

/** What draining a peer needs from its requester, whichever transport carries it. */
export interface DrainableRequester {
  stopAccepting(error: EdgeMQError): void;
  idle(): Promise<void>;
  rejectAll(error: EdgeMQError): void;
}

/**
 * The first half of every peer's close(): new requests reject with `closed`, unfinished ones
 * settle (each bounded by its timeout), every service finishes what it holds; then anything left
 * is rejected with `closed`. The transport closes its own connections afterwards.
 */
export async function drainPeer(
  requester: DrainableRequester,
  services: Iterable<Service>,
): Promise<void> {
  const closed = new EdgeMQError(ERROR_CODE.closed, "peer closed");
  requester.stopAccepting(closed);
  await Promise.all([...[...services].map((service) => service.close()), requester.idle()]);
  requester.rejectAll(closed);
}
