/**
 * request() over the HTTP transport: `POST /v1/queues/{q}/requests?async=true` with an id the SDK
 * chooses (`EdgeMQ-Request-Id`), so a POST retried after a network error is the same request and
 * never runs twice, then waits for the outcome from the peer's one long-poll of all its requests'
 * outcomes (`GET /v1/outcomes`, http-outcomes.ts), or, from a relay without that route, by
 * long-polling `GET /v1/requests/{id}?wait=` for it alone. Every POST
 * carries `timeout=` the time left to the request's deadline, fixed at request() (its timeout,
 * else the relay's default from /v1/whoami): a retry never extends it, and none is sent past it.
 * A `rate_limited` refusal of the POST is the request's outcome, as over WebSocket. A poll that
 * had to be retried (the relay was out of reach) is followed by the POST again, as the WebSocket
 * SDK re-sends after a reconnect: a `memory` queue forgets on a restart. Each request
 * settles exactly once (reply, error, local backstop, abort or close); an abort also cancels it at
 * the relay (`DELETE /v1/queues/{q}/requests/{id}`, retried while the relay is out of reach, until
 * the request's deadline or the peer's close). Used by http-peer.ts.
 */
import {
  EdgeMQError,
  ERROR_CODE,
  encodeHeadersHeader,
  type Headers,
  HTTP_API_HEADERS,
  isQueueName,
  type Limits,
  type PolledOutcome,
  QUEUE_NAME_RULE,
  type ReceivedBody,
  readHeaders,
  type SendBody,
} from "../protocol/index.js";
import { onAbort } from "./abort-listeners.js";
import {
  BYTES_CONTENT_TYPE,
  bodyOfHttp,
  type HttpBody,
  headersOfHttp,
  httpBodyOf,
} from "./http-body.js";
import { answerError, type HttpAnswer, type HttpLink, paceEmptyPoll } from "./http-link.js";
import { OutcomePoller, type OutcomeWatch } from "./http-outcomes.js";
import type { HttpStatus } from "./http-status.js";
import {
  type AbortSignalLike,
  createAbortController,
  type PlatformAbortSignal,
  startTimer,
  stopTimer,
} from "./platform.js";
import { RequestIds } from "./request-ids.js";
import {
  abortedError,
  bodyError,
  decodeOutcome,
  type Outcome,
  pendingLimitError,
  type ReceivedReply,
  type RequestOptions,
} from "./requester.js";

/** Longest single long-poll for an outcome (the relay allows up to 60 s; proxies may not). */
export const POLL_WAIT_MS = 25_000;

export interface HttpRequesterSetup {
  link: HttpLink;
  status: HttpStatus;
  limits: Limits;
  maxPending: number;
  /** Slack after the timeout before the local backstop rejects `timeout`. */
  graceMs: number;
  /** Whether the relay has `GET /v1/outcomes` (whoami's features): else each request polls. */
  pollOutcomes: boolean;
  /** A refusal of the outcome poll (an expired token), shown as the peer's `error` status. */
  report?: (error: EdgeMQError) => void;
}

interface Prepared {
  queue: string;
  id: string;
  body: HttpBody;
  /** The query without `timeout`, which each POST adds (the time left then). */
  query: string;
  /** The request's whole timeout: the caller's, else the relay's default. */
  timeout: number;
  /** The request's headers as `EdgeMQ-Headers` carries them, when it has any. */
  frameHeaders?: string;
}

type Signal = PlatformAbortSignal & AbortSignalLike;

export class HttpRequester {
  readonly #setup: HttpRequesterSetup;
  readonly #running = new Set<(error: EdgeMQError) => void>();
  readonly #ids = new RequestIds();
  /** Stops the retries of the cancels still under way (at rejectAll: the peer is closed). */
  readonly #cancelling = new Set<() => void>();
  /** The cancels under way, each with its request's deadline (the longest it may take). */
  readonly #cancels = new Map<Promise<void>, number>();
  #closed: EdgeMQError | undefined;
  #idleWaiters: (() => void)[] = [];

  /** One poll for all of this peer's requests' outcomes. */
  readonly #poller: OutcomePoller;

  constructor(setup: HttpRequesterSetup) {
    this.#setup = setup;
    const { link, status, pollOutcomes, report } = setup;
    this.#poller = new OutcomePoller(link, status, pollOutcomes, report);
  }

  get size(): number {
    return this.#running.size;
  }

  /** Sends a request; resolves with its reply's body. */
  request(queue: string, body: SendBody, options: RequestOptions = {}): Promise<ReceivedBody> {
    return this.#run(queue, body, options, (reply) => reply.body);
  }

  /** Sends a request; resolves with its whole reply (body, media type, headers). */
  requestReply(
    queue: string,
    body: SendBody,
    options: RequestOptions = {},
  ): Promise<ReceivedReply> {
    return this.#run(queue, body, options, (reply) => reply);
  }

  /** Sends a request; resolves with what `pick` takes of its reply. */
  #run<R>(
    queue: string,
    body: SendBody,
    options: RequestOptions,
    pick: (reply: ReceivedReply) => R,
  ): Promise<R> {
    const prepared = this.#prepare(queue, body, options);
    if (prepared instanceof EdgeMQError) return Promise.reject(prepared);
    const expiresAt = Date.now() + prepared.timeout;
    const giveUpAt = expiresAt + this.#setup.graceMs;
    const controller = createAbortController();
    const signal = options.signal;
    let posted = false;
    return new Promise<R>((resolve, reject) => {
      let done = false;
      const settle = (outcome: Outcome) => {
        if (done) return;
        done = true;
        stopTimer(backstop);
        stopWatching();
        this.#running.delete(fail);
        controller.abort(new EdgeMQError(ERROR_CODE.cancelled, "request settled"));
        if (outcome.ok) resolve(pick(outcome.reply));
        else reject(outcome.error);
        this.#checkIdle();
      };
      const fail = (error: EdgeMQError) => settle({ ok: false, error });
      const abortRequest = () => {
        fail(abortedError(signal));
        if (posted) this.#trackCancel(this.#cancelAtRelay(prepared, expiresAt), expiresAt);
      };
      const backstop = startTimer(() => {
        fail(new EdgeMQError(ERROR_CODE.timeout, `no reply from ${queue} in time`));
      }, giveUpAt - Date.now());
      this.#running.add(fail);
      const stopWatching = signal === undefined ? () => {} : onAbort(signal, abortRequest);
      void this.#exchange(prepared, controller.signal, expiresAt, giveUpAt, () => {
        posted = true;
      }).then(settle);
    });
  }

  /** Refuses new requests with `error`; the unfinished ones carry on to their own outcome. */
  stopAccepting(error: EdgeMQError): void {
    this.#closed ??= error;
  }

  /** Rejects every unfinished request and refuses new ones with `error`. */
  rejectAll(error: EdgeMQError): void {
    this.#closed ??= error;
    for (const fail of [...this.#running]) fail(error);
    for (const stop of [...this.#cancelling]) stop();
  }

  /** Resolves once no request is unfinished (each is bounded by its backstop). */
  idle(): Promise<void> {
    if (this.#running.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Resolves once the cancel calls under way have landed (rejectAll stops their retries, not a
   * call already sent), each bounded by its request's deadline: else a program that exits right
   * after close() loses a DELETE still in flight, and a server runs the aborted request to its end.
   */
  cancelsSent(): Promise<void> {
    if (this.#cancels.size === 0) return Promise.resolve();
    const bounded = [...this.#cancels].map(
      ([cancel, expiresAt]) =>
        new Promise<void>((resolve) => {
          const timer = startTimer(resolve, Math.max(0, expiresAt - Date.now()));
          void cancel.then(() => {
            stopTimer(timer);
            resolve();
          });
        }),
    );
    return Promise.all(bounded).then(() => undefined);
  }

  #trackCancel(cancel: Promise<void>, expiresAt: number): void {
    this.#cancels.set(cancel, expiresAt);
    void cancel.then(() => this.#cancels.delete(cancel));
  }

  #prepare(queue: string, body: SendBody, options: RequestOptions): Prepared | EdgeMQError {
    if (this.#closed) return this.#closed;
    if (options.signal?.aborted) return abortedError(options.signal);
    if (this.#running.size >= this.#setup.maxPending) {
      return pendingLimitError(this.#running.size);
    }
    if (!isQueueName(queue)) {
      return new EdgeMQError(ERROR_CODE.badRequest, `queue must be ${QUEUE_NAME_RULE}`);
    }
    const { limits } = this.#setup;
    const { timeout, failFast, headers } = options;
    const badTimeout = timeoutRefusal(timeout, limits);
    if (badTimeout !== undefined) return badTimeout;
    const frameHeaders = headers === undefined ? undefined : headersHeaderOf(headers);
    if (frameHeaders instanceof EdgeMQError) return frameHeaders;
    let http: HttpBody;
    try {
      http = httpBodyOf(body);
    } catch (error) {
      return bodyError(error);
    }
    if (http.size > limits.maxBodyBytes) {
      return new EdgeMQError(ERROR_CODE.tooLarge, `body over ${limits.maxBodyBytes} bytes`);
    }
    const query = failFast === true ? "&failFast=true" : "";
    const whole = timeout ?? limits.defaultTimeoutMs;
    const prepared: Prepared = { queue, id: this.#ids.take(), body: http, query, timeout: whole };
    if (frameHeaders !== undefined) prepared.frameHeaders = frameHeaders;
    return prepared;
  }

  /**
   * Posts the request (retrying with the same id, each POST with the time left to `expiresAt`),
   * then waits for its outcome: from the peer's one poll of all its requests' outcomes
   * (http-outcomes.ts), or, from a relay without that route, by polling for this one.
   */
  async #exchange(
    prepared: Prepared,
    signal: Signal,
    expiresAt: number,
    giveUpAt: number,
    posted: () => void,
  ): Promise<Outcome> {
    // Watched before the POST goes out: a poll under way may bring the outcome before the 202.
    const watch = this.#poller.supported ? this.#poller.watch(prepared.id) : undefined;
    try {
      let tried = false;
      const post = this.#poster(
        prepared,
        signal,
        expiresAt,
        () => {
          tried = true;
          posted();
        },
        watch !== undefined,
      );
      const accepted = await post();
      if (accepted instanceof EdgeMQError) {
        return mayBeStored(accepted, tried) && watch !== undefined
          ? ((await awaitPolled(watch, post, signal)) ?? { ok: false, error: accepted })
          : { ok: false, error: accepted };
      }
      if (accepted.status !== 202) return outcomeOf(accepted);
      if (watch !== undefined) {
        const polled = await awaitPolled(watch, post, signal);
        if (polled !== undefined) return polled;
      }
      return await this.#pollOne(prepared, signal, giveUpAt, post);
    } finally {
      watch?.stop();
    }
  }

  /** The request's POST, retried with the same id; each try carries the time left then. */
  #poster(
    prepared: Prepared,
    signal: Signal,
    expiresAt: number,
    posted: () => void,
    polled: boolean,
  ): () => Promise<HttpAnswer | EdgeMQError> {
    const { link, status, limits } = this.#setup;
    const path = `/v1/queues/${encodeURIComponent(prepared.queue)}/requests?async=true`;
    const headers = postHeaders(prepared);
    if (polled) headers[HTTP_API_HEADERS.poller] = this.#poller.tag;
    let first = true;
    const options = { signal, giveUpAt: expiresAt, rateLimitedIsFinal: true };
    return () =>
      link.retrying(status, options, async () => {
        // The first POST goes out within request(): no time is spent yet.
        const left = first ? prepared.timeout : expiresAt - Date.now();
        first = false;
        if (left <= 0)
          return new EdgeMQError(ERROR_CODE.timeout, `no reply from ${prepared.queue} in time`);
        posted();
        const timeout = Math.min(left, limits.maxTimeoutMs);
        const query = `&timeout=${timeout}${prepared.query}`;
        const init = { body: prepared.body.content, headers };
        return link.call("POST", `${path}${query}`, init, signal);
      });
  }

  /** Long-polls `GET /v1/requests/{id}` until the outcome (a relay without /v1/outcomes). */
  async #pollOne(
    prepared: Prepared,
    signal: Signal,
    giveUpAt: number,
    post: () => Promise<HttpAnswer | EdgeMQError>,
  ): Promise<Outcome> {
    const { link, status } = this.#setup;
    const retry = { signal, giveUpAt };
    const poll = `/v1/requests/${encodeURIComponent(prepared.id)}`;
    for (;;) {
      const wait = Math.max(0, Math.min(POLL_WAIT_MS, giveUpAt - Date.now()));
      const startedAt = Date.now();
      let tries = 0;
      const answer = await link.retrying(status, retry, () => {
        tries += 1;
        // After a failed try, ask without waiting: the request is posted again right after.
        const waitMs = tries > 1 ? 0 : wait;
        return link.call("GET", `${poll}?wait=${waitMs}`, { waitMs }, signal);
      });
      if (answer instanceof EdgeMQError) return { ok: false, error: answer };
      if (answer.status !== 204) return outcomeOf(answer);
      if (tries > 1) {
        // The relay was out of reach for a while (a restart?): post the request again, as the
        // WebSocket SDK re-sends after a reconnect. A memory queue may have lost it; a durable
        // one answers its stored deadline (the same id is never run twice).
        const again = await post();
        if (again instanceof EdgeMQError) return { ok: false, error: again };
        if (again.status !== 202) return outcomeOf(again);
        continue;
      }
      await paceEmptyPoll(startedAt, wait, signal);
    }
  }

  /**
   * Deletes an aborted request at the relay, retrying while the relay is out of reach (else a
   * server would run it anyway) until `expiresAt`, its deadline, where the relay ends it anyway.
   * rejectAll (the peer closed) stops the retries; a call under way still completes. Each call
   * outlives the page (`keepalive`): a tab that aborts its requests as it closes (`pagehide`)
   * otherwise lost the DELETE behind its CORS preflight, and the server ran them to their end.
   */
  async #cancelAtRelay(prepared: Prepared, expiresAt: number): Promise<void> {
    const { link, status } = this.#setup;
    const path = `/v1/queues/${encodeURIComponent(prepared.queue)}/requests/${encodeURIComponent(prepared.id)}`;
    const controller = createAbortController();
    const stop = () => controller.abort(new EdgeMQError(ERROR_CODE.closed, "peer closed"));
    this.#cancelling.add(stop);
    try {
      const retry = { signal: controller.signal, giveUpAt: expiresAt };
      await link.retrying(status, retry, () => link.call("DELETE", path, { keepalive: true }));
    } catch {
      // Best effort: the request still ends at its deadline.
    } finally {
      this.#cancelling.delete(stop);
    }
  }

  #checkIdle(): void {
    if (this.#running.size > 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const wake of waiters) wake();
  }
}

/**
 * Whether a POST that ended in `error` may still have stored its request: it gave up at the
 * deadline (`timeout`) after a try went out whose answer was lost (the connection cut after the
 * relay took it). Its outcome, a reply its server made in time included, then comes from the
 * outcome poll until the backstop, as a WebSocket client's comes from the outbox.
 */
function mayBeStored(error: EdgeMQError, tried: boolean): boolean {
  return tried && error.code === ERROR_CODE.timeout;
}

/**
 * The outcome the peer's poll brings for a posted request (re-posting it whenever the poll found
 * the relay out of reach), or undefined when the relay has no outcomes route.
 */
function awaitPolled(
  watch: OutcomeWatch,
  post: () => Promise<HttpAnswer | EdgeMQError>,
  signal: Signal,
): Promise<Outcome | undefined> {
  return new Promise((resolve) => {
    const onAbort = () => resolve({ ok: false, error: cancelledBy(signal) });
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    watch.posted(() => {
      void post().then((again) => {
        // A memory queue may have lost it in a restart; a durable one answers its deadline.
        if (again instanceof EdgeMQError) resolve({ ok: false, error: again });
        else if (again.status !== 202) resolve(outcomeOf(again));
      });
    });
    void watch.outcome.then((polled) => {
      signal.removeEventListener("abort", onAbort);
      if (polled === "unsupported") resolve(undefined);
      else if (polled instanceof EdgeMQError) resolve({ ok: false, error: polled });
      else resolve(outcomeOfFrame(polled));
    });
  });
}

function cancelledBy(signal: Signal): EdgeMQError {
  const reason: unknown = signal.reason;
  return reason instanceof EdgeMQError
    ? reason
    : new EdgeMQError(ERROR_CODE.cancelled, "request cancelled");
}

/** A polled outcome frame as the request's outcome. */
function outcomeOfFrame(frame: PolledOutcome): Outcome {
  if (frame.type === "error") return { ok: false, error: EdgeMQError.fromWire(frame) };
  return decodeOutcome(frame);
}

/** A final answer of the requests routes as the request's outcome. */
function outcomeOf(answer: HttpAnswer): Outcome {
  if (answer.status !== 200) return { ok: false, error: answerError(answer) };
  const contentType = answer.header("content-type");
  try {
    const body = bodyOfHttp(contentType, answer.bytes);
    const headers = headersOfHttp(answer.header(HTTP_API_HEADERS.headers));
    // The relay always names one; none reads as bytes (bodyOfHttp).
    return { ok: true, reply: { body, contentType: contentType ?? BYTES_CONTENT_TYPE, headers } };
  } catch (error) {
    return { ok: false, error: EdgeMQError.from(error) };
  }
}

/** A request's headers as `EdgeMQ-Headers` sends them (none: undefined), or why they are refused. */
function headersHeaderOf(headers: Headers): string | undefined | EdgeMQError {
  const checked = readHeaders(headers);
  if (typeof checked === "string") return new EdgeMQError(ERROR_CODE.badRequest, checked);
  return Object.keys(checked).length > 0 ? encodeHeadersHeader(checked) : undefined;
}

/** Why a request's `timeout` option is refused, or undefined (absent, or within the limit). */
function timeoutRefusal(timeout: number | undefined, limits: Limits): EdgeMQError | undefined {
  if (timeout === undefined) return undefined;
  if (!(Number.isSafeInteger(timeout) && timeout > 0)) {
    return new EdgeMQError(ERROR_CODE.badRequest, "timeout must be a positive integer of ms");
  }
  if (timeout > limits.maxTimeoutMs) {
    return new EdgeMQError(ERROR_CODE.badRequest, `timeout over ${limits.maxTimeoutMs} ms`);
  }
  return undefined;
}

/** The HTTP headers of a request's POST: its body's type, its id and its own headers. */
function postHeaders(prepared: Prepared): Record<string, string> {
  const headers: Record<string, string> = {
    "Content-Type": prepared.body.contentType,
    [HTTP_API_HEADERS.requestId]: prepared.id,
  };
  if (prepared.frameHeaders !== undefined) {
    headers[HTTP_API_HEADERS.headers] = prepared.frameHeaders;
  }
  return headers;
}
