/**
 * The HTTP transport's line to the relay: the platform's `fetch` (or one the user passes), the
 * base URL (http(s), or ws(s) turned into http(s)), credentials as headers (dev mode:
 * `EdgeMQ-Identity`; signed mode: `Authorization: Bearer`), answers read whole, the relay's JSON
 * error bodies turned into EdgeMQError, and retries of transient failures (network errors, 5xx
 * from a proxy, `internal`, and `rate_limited` unless the caller makes it final, as a new
 * request's POST does so request() reports it) with full-jitter backoff (backoff.ts) until a
 * give-up time. A retry waiting out a delay because the relay was out of reach tries again as soon
 * as any call of the link gets an answer from the relay: the relay is back (a restart), and every
 * call goes then, as a WebSocket peer's frames all go once its socket reconnects, where each call
 * slept its own draw of up to 10 s (a probe: an HTTP server's reply landed 7 s after its takes
 * were answered again). Used by http-requester.ts, http-service.ts and http-peer.ts.
 */
import { EdgeMQError, ERROR_CODE, HEADERS, HTTP_STATUS, isErrorCode } from "../protocol/index.js";
import { onAbort } from "./abort-listeners.js";
import { type BackoffOptions, backoffDelay } from "./backoff.js";
import type { HttpStatus } from "./http-status.js";
import {
  type AbortSignalLike,
  createAbortController,
  type PlatformAbortSignal,
  startTimer,
  stopTimer,
} from "./platform.js";
import { RelayReachability } from "./relay-reachability.js";
import type { Credentials } from "./url.js";

/** What the SDK passes to fetch. */
export interface HttpRequestInit {
  /** The HTTP method: GET, POST or DELETE. */
  method: string;
  /** The call's headers (the token as `Authorization`, or the dev-mode identity, among them). */
  headers: Record<string, string>;
  /**
   * Bytes over an ArrayBuffer, as DOM `fetch` takes them (so `fetch: globalThis.fetch` fits):
   * `Uint8Array<ArrayBuffer>`, spelled as what `slice` returns so that TypeScript before 5.7 (no
   * generic typed arrays) reads the .d.ts too, as a Uint8Array.
   */
  body?: ReturnType<Uint8Array["slice"]> | string;
  /** Aborts the call (a request's abort, a long-poll no longer needed, close()). */
  signal?: PlatformAbortSignal & AbortSignalLike;
  /** Outlives the page that sends it (a browser's `fetch` keepalive): leaving as a page goes, cancels. */
  keepalive?: boolean;
}

/** The part of a fetch Response the SDK reads. */
export interface FetchResponseLike {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** The part of `fetch` the HTTP transport calls (connect option `fetch`). */
export type FetchLike = (url: string, init: HttpRequestInit) => Promise<FetchResponseLike>;

/** An answer read whole. */
export interface HttpAnswer {
  status: number;
  header(name: string): string | undefined;
  bytes: Uint8Array;
}

const SCHEME = /^(wss?|https?):\/\//i;
const UTF8 = new TextDecoder("utf-8");

/** The platform's fetch (checked at run time: the SDK compiles without DOM or Node types). */
export function resolveFetch(given: FetchLike | undefined): FetchLike {
  if (given !== undefined) return given;
  const platform: unknown = Reflect.get(globalThis, "fetch");
  if (typeof platform !== "function") {
    throw new EdgeMQError(ERROR_CODE.badRequest, "this platform has no fetch: pass options.fetch");
  }
  return async (url, init) => {
    const response: unknown = await Reflect.apply(platform, globalThis, [url, init]);
    return checkedResponse(response);
  };
}

/** fetch takes bytes over an ArrayBuffer: a view of one is passed as it is, others are copied. */
function fetchBody(body: Uint8Array | string): Uint8Array<ArrayBuffer> | string {
  if (typeof body === "string") return body;
  const buffer = body.buffer;
  if (buffer instanceof ArrayBuffer)
    return new Uint8Array(buffer, body.byteOffset, body.byteLength);
  return new Uint8Array(body);
}

/** The relay's HTTP base URL for a user's relay URL. */
export function httpBase(url: string): string {
  const match = SCHEME.exec(url);
  const scheme = match?.[1]?.toLowerCase();
  if (!match || !scheme) {
    throw new EdgeMQError(
      ERROR_CODE.badRequest,
      "relay url must start with http(s):// or ws(s)://",
    );
  }
  const httpScheme = scheme === "wss" ? "https" : scheme === "ws" ? "http" : scheme;
  return `${httpScheme}://${url.slice(match[0].length).replace(/\/+$/, "")}`;
}

export interface RetryOptions {
  /** Aborting stops at once (the result is then `cancelled`). */
  signal: PlatformAbortSignal & AbortSignalLike;
  /**
   * Epoch ms the retries go on until: a backoff delay that would pass it is cut so the last try
   * starts just before it (LAST_TRY_LEAD_MS); once that try fails the result is `timeout`.
   */
  giveUpAt: number;
  /** A `rate_limited` answer is final (returned), not retried; default: retried. */
  rateLimitedIsFinal?: boolean;
}

export class HttpLink {
  readonly #base: string;
  readonly #credentials: Credentials;
  readonly #fetch: FetchLike;
  readonly #backoff: BackoffOptions;
  /** Wakes the retries waiting out a delay after the relay was out of reach (relay-reachability.ts). */
  readonly #reachability = new RelayReachability();

  constructor(url: string, credentials: Credentials, fetch: FetchLike, backoff: BackoffOptions) {
    this.#base = httpBase(url);
    this.#credentials = credentials;
    this.#fetch = fetch;
    this.#backoff = backoff;
  }

  /**
   * One call; throws what fetch throws (network errors, aborts). A long-poll names its `waitMs`:
   * one whose answer has not begun within waitMs + POLL_ANSWER_SLACK_MS is aborted and throws,
   * as a network error (see POLL_ANSWER_SLACK_MS).
   */
  async call(
    method: string,
    path: string,
    init: {
      body?: Uint8Array | string;
      headers?: Record<string, string>;
      keepalive?: boolean;
      waitMs?: number;
    } = {},
    signal?: PlatformAbortSignal & AbortSignalLike,
  ): Promise<HttpAnswer> {
    const headers: Record<string, string> = { ...init.headers };
    if (this.#credentials.identity !== undefined)
      headers[HEADERS.identity] = this.#credentials.identity;
    if (this.#credentials.token !== undefined) {
      headers.Authorization = `Bearer ${this.#credentials.token}`;
    }
    const request: HttpRequestInit = { method, headers };
    if (init.body !== undefined) request.body = fetchBody(init.body);
    if (init.keepalive === true) request.keepalive = true;
    const bounded = init.waitMs === undefined ? undefined : answerBound(init.waitMs, signal);
    const callSignal = bounded?.signal ?? signal;
    if (callSignal !== undefined) request.signal = callSignal;
    try {
      const response = await this.#fetch(`${this.#base}${path}`, request);
      bounded?.answered();
      // The relay answered: retries waiting because it was out of reach go now.
      if (fromRelay(response.status)) this.#reachability.reached();
      const bytes = new Uint8Array(await bodyBytes(response, callSignal));
      return {
        status: response.status,
        header: (name) => response.headers.get(name) ?? undefined,
        bytes,
      };
    } finally {
      bounded?.release();
    }
  }

  /**
   * Calls until the answer is final: a success, or a refusal that retrying would not change.
   * Transient failures are retried with full-jitter backoff, reported to `status`. A delay after
   * the relay was out of reach ends early when another call of this link gets an answer from it,
   * once per retrying() (a call that fails again while others get through goes back to its
   * backoff: no burst of tries). Resolves with the answer, or with an EdgeMQError: `cancelled`
   * after an abort, `timeout` when the last try, just before `giveUpAt`, failed too.
   */
  async retrying(
    status: HttpStatus,
    options: RetryOptions,
    send: () => Promise<HttpAnswer | EdgeMQError>,
  ): Promise<HttpAnswer | EdgeMQError> {
    const finalRateLimit = options.rateLimitedIsFinal === true;
    let lastTry = false;
    /** Whether a delay may still be cut short by an answer to another call (once per call). */
    const wake = { allowed: true };
    for (let attempt = 0; ; attempt++) {
      if (options.signal.aborted) return stopped(options.signal);
      const tried = await tryOnce(send, finalRateLimit);
      if (tried instanceof EdgeMQError) return tried;
      if (!isFailure(tried)) return answered(status, tried);
      if (options.signal.aborted) return stopped(options.signal);
      const backoffMs = backoffDelay(attempt, this.#backoff);
      const delayMs: number | undefined = lastTry ? undefined : retryDelay(backoffMs, options);
      if (delayMs === undefined) {
        const why = tried.reason;
        return new EdgeMQError(ERROR_CODE.timeout, `the relay did not answer in time (${why})`);
      }
      lastTry = Date.now() + delayMs >= options.giveUpAt - LAST_TRY_LEAD_MS;
      status.down(tried.reason, attempt + 1, delayMs);
      // Woken, it tries sooner than planned: the give-up time may leave room for more tries.
      if (await this.#pause(delayMs, options.signal, tried.outOfReach, wake)) lastTry = false;
    }
  }

  /**
   * Waits `ms`, or less when `signal` aborts; after the relay was `outOfReach`, also until a
   * call gets an answer from it (then true), if `wake` still allows it (once).
   */
  async #pause(
    ms: number,
    signal: AbortSignalLike,
    outOfReach: boolean,
    wake: { allowed: boolean },
  ): Promise<boolean> {
    if (!outOfReach || !wake.allowed || signal.aborted) {
      await pause(ms, signal);
      return false;
    }
    const cut = createAbortController();
    let answered = false;
    const woken = () => {
      answered = true;
      wake.allowed = false;
      cut.abort();
    };
    const abort = () => cut.abort();
    const unwait = this.#reachability.onReached(woken);
    const unwatch = onAbort(signal, abort);
    try {
      await pause(ms, cut.signal);
    } finally {
      unwait();
      unwatch();
    }
    return answered;
  }
}

/**
 * How long past its `wait` a long-poll (a take, the outcome poll) may go without the start of an
 * answer before it is given up as a dead connection and tried again: the relay answers every
 * long-poll by its wait (204 or an empty list when nothing came). A connection that died silently
 * (a NAT or proxy that dropped it, no FIN) otherwise held the poll for Node fetch's 300 s headers
 * timeout, and for good in a browser: a probe's HTTP server, its take on such a connection, was
 * deaf for minutes (every request `no_responders`), where a WebSocket server's heartbeat finds a
 * dead socket within 15 s. The same 15 s here.
 */
export const POLL_ANSWER_SLACK_MS = 15_000;

/**
 * A signal for one long-poll: aborted when the caller's `signal` aborts, or, until `answered()`,
 * once `waitMs` + POLL_ANSWER_SLACK_MS passed (with an error saying so). `release()` stops both.
 */
function answerBound(waitMs: number, signal: (PlatformAbortSignal & AbortSignalLike) | undefined) {
  const controller = createAbortController();
  const limitMs = waitMs + POLL_ANSWER_SLACK_MS;
  const forward = () => controller.abort(signal?.reason);
  let unforward = () => {};
  // One listener on a signal many calls share (an HTTP service's, for all its take loops).
  if (signal?.aborted === true) forward();
  else if (signal !== undefined) unforward = onAbort(signal, forward);
  const timer = startTimer(() => {
    controller.abort(
      new Error(`no answer to a long-poll within ${limitMs} ms (a dead connection?)`),
    );
  }, limitMs);
  return {
    signal: controller.signal,
    answered: () => {
      stopTimer(timer);
    },
    release: () => {
      stopTimer(timer);
      unforward();
    },
  };
}

/**
 * Whether an answer with `status` came from a relay at work: not a proxy's or the relay's own
 * 5xx (it may be starting, or out of reach behind the proxy), nor a 429 (the relay asks to wait).
 */
function fromRelay(status: number): boolean {
  return status < 500 && status !== 429;
}

/**
 * A response's body, rejecting once `signal` aborts: Node 20's fetch (undici) can leave
 * arrayBuffer() unsettled for good when a signal that several calls share aborts while their
 * bodies are read (an HTTP service's take loops, one refused: its close() never resolved).
 */
function bodyBytes(
  response: FetchResponseLike,
  signal: AbortSignalLike | undefined,
): Promise<ArrayBuffer> {
  const read = response.arrayBuffer();
  if (signal === undefined) return read;
  return new Promise<ArrayBuffer>((resolve, reject) => {
    const aborted = () => reject(signal.reason ?? new Error("aborted"));
    if (signal.aborted) {
      read.catch(() => {});
      aborted();
      return;
    }
    const unwatch = onAbort(signal, aborted);
    read.then(resolve, reject).finally(unwatch);
  });
}

/**
 * A final answer, shown as `connected` unless it refuses the credentials (401, 403), which is no
 * connection, as a refused WebSocket upgrade is none. A 401 (the token, for every call) makes the
 * next answer that is not refused show `connected` again; a 403 is about one queue.
 */
function answered(status: HttpStatus, answer: HttpAnswer): HttpAnswer {
  if (answer.status === 401) status.refused();
  else if (answer.status !== 403) status.up();
  return answer;
}

/** How long before the give-up time the last try starts, so it can still land in time. */
const LAST_TRY_LEAD_MS = 100;

/**
 * The wait before the next try: the backoff delay, cut so a try still starts just before the
 * give-up time (one large jitter draw must not end the retries early); undefined when no time is
 * left for a try.
 */
function retryDelay(backoffMs: number, options: RetryOptions): number | undefined {
  const left = options.giveUpAt - Date.now();
  if (left <= 0) return undefined;
  return Math.min(backoffMs, Math.max(0, left - LAST_TRY_LEAD_MS));
}

/** A try that failed, to retry: why, and whether the relay was out of reach (no answer of its). */
interface Failure {
  reason: string;
  outOfReach: boolean;
}

function isFailure(tried: HttpAnswer | Failure): tried is Failure {
  return "reason" in tried;
}

/**
 * One call: the answer when it is final (or the EdgeMQError `send` gave instead of calling), else
 * why it failed (to retry): a network error or a proxy's 5xx is the relay out of reach.
 */
async function tryOnce(
  send: () => Promise<HttpAnswer | EdgeMQError>,
  finalRateLimit: boolean,
): Promise<HttpAnswer | EdgeMQError | Failure> {
  try {
    const answer = await send();
    if (answer instanceof EdgeMQError) return answer;
    if (!isTransient(answer, finalRateLimit)) return answer;
    const outOfReach = answer.status >= 500 && relayError(answer) === undefined;
    return { reason: `HTTP ${answer.status}`, outOfReach };
  } catch (error) {
    return { reason: error instanceof Error ? error.message : String(error), outOfReach: true };
  }
}

/**
 * The relay's JSON error body as an EdgeMQError; a foreign body (a proxy's) by its status, with
 * its start on one line.
 */
export function answerError(answer: HttpAnswer): EdgeMQError {
  const relayed = relayError(answer);
  if (relayed !== undefined) return relayed;
  const text = UTF8.decode(answer.bytes).slice(0, 200).replace(/\s+/g, " ").trim();
  const message = text === "" ? `HTTP ${answer.status}` : `HTTP ${answer.status}: ${text}`;
  return new EdgeMQError(codeForStatus(answer.status), message);
}

/**
 * answerError for a peer's first call to `url` (connect's whoami): an answer that is no relay's
 * (a page's own static server, on the port next to the relay's) says so.
 */
export function connectAnswerError(url: string, answer: HttpAnswer): EdgeMQError {
  const error = answerError(answer);
  if (relayError(answer) !== undefined) return error;
  const message = `no EdgeMQ relay answers at ${url} (${error.message}): is that the relay's address?`;
  return new EdgeMQError(error.code, message);
}

/**
 * Whether retrying may change the answer: network-level trouble, not a decision of the relay.
 * `rate_limited` (the relay's, or a bare 429) counts unless `finalRateLimit`.
 */
function isTransient(answer: HttpAnswer, finalRateLimit: boolean): boolean {
  if (answer.status < 400) return false;
  const relayed = relayError(answer);
  if (relayed === undefined) {
    return answer.status >= 500 || (answer.status === 429 && !finalRateLimit);
  }
  if (relayed.code === ERROR_CODE.internal) return true;
  return relayed.code === ERROR_CODE.rateLimited && !finalRateLimit;
}

function relayError(answer: HttpAnswer): EdgeMQError | undefined {
  if (answer.status < 400) return undefined;
  const type = answer.header("content-type") ?? "";
  if (!type.toLowerCase().includes("json")) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(UTF8.decode(answer.bytes));
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null || !("error" in parsed)) return undefined;
  const error = parsed.error;
  if (typeof error !== "object" || error === null) return undefined;
  const code = "code" in error ? error.code : undefined;
  const message = "message" in error && typeof error.message === "string" ? error.message : "";
  return isErrorCode(code) ? new EdgeMQError(code, message) : undefined;
}

function codeForStatus(status: number): EdgeMQError["code"] {
  for (const [code, mapped] of Object.entries(HTTP_STATUS)) {
    if (mapped === status && isErrorCode(code)) return code;
  }
  return status >= 500 ? ERROR_CODE.internal : ERROR_CODE.badRequest;
}

function stopped(signal: AbortSignalLike): EdgeMQError {
  const reason = signal.reason;
  if (reason instanceof EdgeMQError) return reason;
  return new EdgeMQError(ERROR_CODE.cancelled, "stopped", { cause: reason });
}

/**
 * After an empty long-poll answer (204) that came back sooner than the `waitMs` it asked for (a
 * proxy that does not hold requests open), waits out the rest, up to 1 s, so a poll loop never
 * spins faster than one call a second.
 */
export async function paceEmptyPoll(
  startedAt: number,
  waitMs: number,
  signal: AbortSignalLike,
): Promise<void> {
  const rest = Math.min(waitMs, MAX_EMPTY_POLL_PACE_MS) - (Date.now() - startedAt);
  if (rest > 0) await pause(rest, signal);
}

const MAX_EMPTY_POLL_PACE_MS = 1_000;

/** Waits `ms`, or less when `signal` aborts. */
export function pause(ms: number, signal?: AbortSignalLike): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const done = () => {
      stopTimer(timer);
      unwatch();
      resolve();
    };
    const timer = startTimer(done, ms);
    // One listener on a signal many waits share (an HTTP service's, for all its take loops).
    const unwatch = signal === undefined ? () => {} : onAbort(signal, done);
  });
}

function checkedResponse(value: unknown): FetchResponseLike {
  if (
    typeof value !== "object" ||
    value === null ||
    !("status" in value) ||
    typeof value.status !== "number" ||
    !("headers" in value) ||
    !("arrayBuffer" in value)
  ) {
    throw new EdgeMQError(ERROR_CODE.internal, "fetch returned something that is not a Response");
  }
  const { status, headers, arrayBuffer } = value;
  const get =
    typeof headers === "object" && headers !== null && "get" in headers ? headers.get : undefined;
  if (typeof get !== "function" || typeof arrayBuffer !== "function") {
    throw new EdgeMQError(ERROR_CODE.internal, "fetch returned something that is not a Response");
  }
  return {
    status,
    headers: {
      get: (name) => {
        const found: unknown = Reflect.apply(get, headers, [name]);
        return typeof found === "string" ? found : null;
      },
    },
    arrayBuffer: async () => {
      const buffer: unknown = await Reflect.apply(arrayBuffer, value, []);
      if (buffer instanceof ArrayBuffer) return buffer;
      throw new EdgeMQError(ERROR_CODE.internal, "the response body is not an ArrayBuffer");
    },
  };
}
