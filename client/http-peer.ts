/**
 * connect(url, { transport: "http" }): a Peer that speaks the relay's HTTP API instead of
 * WebSockets (for networks that block them), with the same API and guarantees. connect asks
 * `GET /v1/whoami` first, so a bad URL or token fails there, and learns the identity and limits
 * a welcome would carry. Requests go through http-requester.ts, served queues through
 * http-service.ts; statuses come from http-status.ts. Used by peer.ts.
 */
import {
  DEFAULT_LIMITS,
  EdgeMQError,
  ERROR_CODE,
  isIdentity,
  LEASE_FEATURE,
  type Limits,
  OUTCOMES_FEATURE,
  type ReceivedBody,
  type SendBody,
} from "../protocol/index.js";
import type { BackoffOptions } from "./backoff.js";
import { HTTP_SERVER_LEASE_MS } from "./http-leases.js";
import { connectAnswerError, type FetchLike, HttpLink, resolveFetch } from "./http-link.js";
import { HttpRequester } from "./http-requester.js";
import { HttpService } from "./http-service.js";
import { HttpStatus } from "./http-status.js";
import { LoneGate } from "./lone-gate.js";
import {
  checkServe,
  drainPeer,
  handlerOf,
  type Peer,
  replyAs,
  type Service,
  wholeReplyAs,
} from "./peer-api.js";
import { createAbortController, startTimer, stopTimer } from "./platform.js";
import type { ReceivedReply, RequestOptions } from "./requester.js";
import type { Handler, ServeOptions } from "./service.js";
import { type Status, StatusFeed } from "./status.js";
import { type LiveCredentials, renewToken } from "./url.js";

export interface HttpPeerSetup {
  url: string;
  credentials: LiveCredentials;
  fetch: FetchLike | undefined;
  backoff: BackoffOptions;
  maxPending: number;
  graceMs: number;
}

const UTF8 = new TextDecoder("utf-8");

/**
 * How long connect() waits for the relay's answer to `GET /v1/whoami`, as long as a WebSocket
 * upgrade is given (connection.ts): an address that takes the connection and never answers (a
 * wedged relay, another service's port) otherwise held connect() for Node fetch's 300 s headers
 * timeout, and for good in a browser.
 */
export const CONNECT_ANSWER_WAIT_MS = 15_000;

export async function connectHttp(setup: HttpPeerSetup): Promise<Peer> {
  const link = new HttpLink(setup.url, setup.credentials, resolveFetch(setup.fetch), setup.backoff);
  const controller = createAbortController();
  const silent = `no answer to GET /v1/whoami within ${CONNECT_ANSWER_WAIT_MS} ms`;
  const timer = startTimer(
    () => controller.abort(new EdgeMQError(ERROR_CODE.closed, silent)),
    CONNECT_ANSWER_WAIT_MS,
  );
  let answer: Awaited<ReturnType<HttpLink["call"]>>;
  try {
    answer = await link.call("GET", "/v1/whoami", {}, controller.signal);
  } catch (cause) {
    const why = causeChain(cause);
    const message = `cannot reach the relay at ${setup.url}${why === "" ? "" : ` (${why})`}`;
    throw new EdgeMQError(ERROR_CODE.closed, message, { cause });
  } finally {
    stopTimer(timer);
  }
  if (answer.status !== 200) throw connectAnswerError(setup.url, answer);
  const whoami = readWhoami(UTF8.decode(answer.bytes));
  return new HttpPeer(link, whoami, setup);
}

/**
 * What a failed fetch says, with its causes (Node's fetch throws "fetch failed" and puts the
 * socket's error, "connect ECONNREFUSED ...", in its cause): the first line of each message.
 */
function causeChain(error: unknown): string {
  const lines: string[] = [];
  let current = error;
  while (current instanceof Error && lines.length < 3) {
    const line = current.message.split("\n", 1)[0]?.trim() ?? "";
    if (line !== "") lines.push(line);
    current = current.cause;
  }
  return lines.join(": ");
}

export class HttpPeer implements Peer {
  readonly identity: string;
  readonly transport = "http";
  readonly #link: HttpLink;
  readonly #credentials: LiveCredentials;
  readonly #limits: Limits;
  /** Shared by all of this peer's services: a lone request runs alone in the peer (lone-gate.ts). */
  readonly #gate = new LoneGate();
  /** Whether the relay's take and lease routes take `?lease=` (whoami's features). */
  readonly #leaseFeature: boolean;
  readonly #feed = new StatusFeed();
  readonly #requester: HttpRequester;
  readonly #services = new Set<HttpService>();
  #closing: Promise<void> | undefined;

  constructor(link: HttpLink, whoami: Whoami, setup: HttpPeerSetup) {
    const { identity, limits } = whoami;
    this.identity = identity;
    this.#link = link;
    this.#credentials = setup.credentials;
    this.#limits = limits;
    this.#leaseFeature = whoami.features.includes(LEASE_FEATURE);
    const status = new HttpStatus((s) => this.#feed.emit(s));
    status.up();
    this.#requester = new HttpRequester({
      link,
      status,
      limits,
      maxPending: setup.maxPending,
      graceMs: setup.graceMs,
      pollOutcomes: whoami.features.includes(OUTCOMES_FEATURE),
      report: (error) => this.#feed.emit({ type: "error", error }),
    });
  }

  /** Signed mode: the token every HTTP call uses from now on (the link reads it per call). */
  setToken(token: string): void {
    if (this.#closing) throw new EdgeMQError(ERROR_CODE.closed, "setToken: this peer is closed");
    renewToken(this.#credentials, token, this.identity);
    for (const service of this.#services) service.renewed();
  }

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

  serve<T = ReceivedBody>(
    queue: string,
    typedHandler: Handler<T>,
    options: ServeOptions = {},
  ): Service {
    const handler = handlerOf(typedHandler);
    if (this.#closing) throw new EdgeMQError(ERROR_CODE.closed, "peer is closed");
    const max = this.#limits.maxConcurrency;
    const concurrency = checkServe(queue, handler, options, max, this.#services);
    const emit = (status: Status) => this.#feed.emit(status);
    const service = new HttpService({
      queue,
      handler,
      concurrency,
      link: this.#link,
      credentials: this.#credentials,
      status: new HttpStatus(emit, queue),
      limits: this.#limits,
      gate: this.#gate,
      leaseMs: this.#leaseFeature ? HTTP_SERVER_LEASE_MS : undefined,
      report: emit,
      closed: (closed) => this.#services.delete(closed),
    });
    this.#services.add(service);
    return service;
  }

  status(): AsyncIterable<Status> {
    return this.#feed.subscribe();
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #shutdown(): Promise<void> {
    await drainPeer(this.#requester, this.#services);
    await this.#requester.cancelsSent();
    this.#feed.emit({ type: "closed" });
  }
}

/** What `GET /v1/whoami` answers that the HTTP transport uses. */
interface Whoami {
  identity: string;
  limits: Limits;
  /** The HTTP API's features past the first version's (none from an older relay). */
  features: string[];
}

/** The identity, limits and features from `GET /v1/whoami`; limits it lacks keep their defaults. */
function readWhoami(text: string): Whoami {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== "object" || parsed === null || !("identity" in parsed)) {
    throw new EdgeMQError(ERROR_CODE.badRequest, "the relay's /v1/whoami answer is not JSON");
  }
  const identity = parsed.identity;
  if (!isIdentity(identity)) {
    throw new EdgeMQError(ERROR_CODE.badRequest, "the relay's /v1/whoami names no identity");
  }
  const limits = readLimits("limits" in parsed ? parsed.limits : undefined);
  const listed = "features" in parsed && Array.isArray(parsed.features) ? parsed.features : [];
  const features = listed.filter((f): f is string => typeof f === "string");
  return { identity, limits, features };
}

/** The limits the relay announced; any it lacks keep their defaults. */
function readLimits(given: unknown): Limits {
  const limits: Limits = { ...DEFAULT_LIMITS };
  if (typeof given !== "object" || given === null) return limits;
  for (const key of Object.keys(limits)) {
    if (!isLimitKey(key, limits)) continue;
    const value: unknown = Reflect.get(given, key);
    if (typeof value === "number" && Number.isSafeInteger(value) && value > 0) limits[key] = value;
  }
  return limits;
}

function isLimitKey(key: string, limits: Limits): key is keyof Limits {
  return key in limits;
}
