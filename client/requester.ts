/**
 * The requesting side of a peer: the map of unfinished requests, each settled exactly once (reply,
 * error, local backstop timeout, abort or close), acks for every outcome the relay delivers (on the
 * route it came on; a refused re-send is no outcome and is not acked), and the re-send of
 * unfinished requests after a reconnect, preceded by the cancels of aborted requests not yet
 * answered (a cancel is kept, and sent again after a refusal, until its request's outcome comes). Each request's deadline is fixed at request() (its timeout, else the relay's
 * default): every send and re-send carries the time left to it, and one with no time left is not
 * sent: it settles `timeout` at once if it never went out, else at its backstop (its outcome,
 * replayed after a reconnect, may still come). Used by peer.ts; sends through callbacks, and the
 * peer picks each frame's route (a socket).
 */
import {
  type AcceptedFrame,
  type AckFrame,
  bodyFrameRefusal,
  bodySize,
  type CancelFrame,
  contentTypeOf,
  decodeBody,
  EdgeMQError,
  ERROR_CODE,
  type ErrorFrame,
  encodeBody,
  type Headers,
  isQueueName,
  type Limits,
  PATHS,
  QUEUE_NAME_RULE,
  type ReceivedBody,
  type ReplyFrame,
  type RequestFrame,
  readHeaders,
  type SendBody,
  type WireBody,
} from "../protocol/index.js";
import { onAbort } from "./abort-listeners.js";
import { type BackoffOptions, backoffDelay } from "./backoff.js";
import { type AbortSignalLike, startTimer, stopTimer, type TimerHandle } from "./platform.js";
import { RequestIds } from "./request-ids.js";

/** request()'s options: every one may be left out (or undefined) for its default. */
export interface RequestOptions {
  /** Milliseconds the relay waits for a reply (default and maximum: welcome.limits). */
  timeout?: number | undefined;
  /** Fail at once with `no_responders` when no server serves the queue. */
  failFast?: boolean | undefined;
  /** Headers the handler sees as `req.headers` (over either transport). */
  headers?: Headers | undefined;
  /** Aborting rejects the request with `cancelled` and asks the relay to drop it. */
  signal?: AbortSignalLike | undefined;
}

/**
 * A whole reply, as `peer.requestReply()` resolves with it: its body, the body's media type and
 * the reply's headers, as a handler sees a request's (ServeRequest). `T` is the body's type as the
 * caller names it (`requestReply<T>()`): not checked at run time.
 */
export interface ReceivedReply<T = ReceivedBody> {
  /** The reply's body (a JSON value, a string or bytes; null for none), as `request()` gives it. */
  readonly body: T;
  /**
   * The body's media type: the one its server named (`typed()`, `reply()`, an HTTP server's
   * Content-Type), else its kind's (application/json for a JSON value, text/plain;
   * charset=utf-8 for a string, application/octet-stream for bytes), as the relay gives it to
   * HTTP clients (docs/http-api.md#bodies). The same on either transport.
   */
  readonly contentType: string;
  /** The headers the server replied with (`reply(body, { headers })`; `{}` for none). */
  readonly headers: Headers;
}

/** The socket a frame went on or came from, named by its path (e.g. "/v1/connect"). */
export type Route = string;

/** The route of outcomes handled without one: the peer's client socket. */
export const DEFAULT_ROUTE: Route = PATHS.connect;

export interface RequesterOptions {
  /**
   * Sends a request or cancel on the route the peer picks: that route, or undefined when none could
   * take it (disconnected: requests are re-sent later).
   */
  send(frame: RequestFrame | CancelFrame): Route | undefined;
  /** Sends an ack on `route`, where its outcomes came from; false when that route is not open. */
  sendAck(frame: AckFrame, route: Route): boolean;
  limits(): Limits;
  /** Most unfinished requests held at once; past it request() rejects `too_many_in_flight`. */
  maxPending: number;
  /** Slack after the timeout before the local backstop rejects `timeout`. */
  graceMs: number;
}

interface Pending {
  frame: RequestFrame;
  /** The route that last took the request; undefined while it was never sent. */
  route: Route | undefined;
  /** Epoch ms the request is over at, fixed at request(): its timeout, else the relay's default. */
  expiresAt: number;
  /** The relay's deadline from `accepted`: set once the relay has stored the request. */
  deadline: number | undefined;
  timer: TimerHandle | undefined;
  /** The next re-send after a refused re-send (see isResendRefusal), while one is scheduled. */
  retry: TimerHandle | undefined;
  /** Re-sends refused in a row, for the backoff of the next. */
  refusals: number;
  /**
   * A copy of a request that had already gone out was sent (a re-send) and no `accepted` answered
   * it yet: a refusal may answer that copy rather than the request (see isResendRefusal).
   */
  copySent: boolean;
  resolve(reply: ReceivedReply): void;
  reject(error: EdgeMQError): void;
  detach(): void;
}

/** Picks requests to re-send, from their frame and the route that last took them. */
export type ResendFilter = (frame: RequestFrame, route: Route | undefined) => boolean;

/** How a request ends: its reply, or an error. */
export type Outcome = { ok: true; reply: ReceivedReply } | { ok: false; error: EdgeMQError };

/**
 * A cancel kept until its request's outcome comes (the relay answers a cancel with the request's
 * `cancelled` outcome, or the request had its outcome already): sent again after a refusal
 * (`rate_limited`, `internal`) and after a reconnect, so no server runs a cancelled request.
 */
interface KeptCancel {
  frame: CancelFrame;
  /** The cancelled request's expiry (epoch ms): past it the relay has ended it anyway. */
  expiresAt: number;
  /** Refusals in a row, for the backoff of the next try. */
  refusals: number;
  retry: TimerHandle | undefined;
}

/**
 * Runs `run` after the backoff of `held`'s refusals so far (counting this one), never later than
 * its expiry; a retry already waiting is replaced.
 */
function retryLater(
  held: { refusals: number; retry: TimerHandle | undefined; expiresAt: number },
  run: () => void,
): void {
  stopTimer(held.retry);
  const backoff = backoffDelay(held.refusals, RESEND_BACKOFF);
  held.refusals += 1;
  const delayMs = Math.max(0, Math.min(backoff, held.expiresAt - Date.now()));
  held.retry = startTimer(() => {
    held.retry = undefined;
    run();
  }, delayMs);
}

/** Refusals of a cancel that a later try may get past: it is sent again, not given up. */
const CANCEL_REFUSALS = new Set<string>([ERROR_CODE.rateLimited, ERROR_CODE.internal]);

/** Most ids in one ack frame. */
const MAX_ACK_IDS = 1_000;

/** Delays before sending again a re-send the relay refused (full jitter, backoff.ts). */
const RESEND_BACKOFF: BackoffOptions = { minDelayMs: 250, maxDelayMs: 5_000 };

export class Requester {
  readonly #options: RequesterOptions;
  readonly #pending = new Map<string, Pending>();
  readonly #ids = new RequestIds();
  /** Cancels of requests that had gone out, until their outcome comes (KeptCancel), by id. */
  readonly #cancels = new Map<string, KeptCancel>();
  #acks = new Map<Route, string[]>();
  #ackScheduled = false;
  #closed: EdgeMQError | undefined;
  #idleWaiters: (() => void)[] = [];

  constructor(options: RequesterOptions) {
    this.#options = options;
  }

  get size(): number {
    return this.#pending.size;
  }

  /** The queues with unfinished requests (a scan: for queue-links.ts's idle checks). */
  pendingQueues(): Set<string> {
    const queues = new Set<string>();
    for (const entry of this.#pending.values()) queues.add(entry.frame.queue);
    return queues;
  }

  /** Sends a request; resolves with its reply's body. */
  request(queue: string, body: SendBody, options: RequestOptions = {}): Promise<ReceivedBody> {
    return new Promise<ReceivedBody>((resolve, reject) => {
      this.#start(queue, body, options, (reply) => resolve(reply.body), reject);
    });
  }

  /** Sends a request; resolves with its whole reply (body, media type, headers). */
  requestReply(
    queue: string,
    body: SendBody,
    options: RequestOptions = {},
  ): Promise<ReceivedReply> {
    return new Promise<ReceivedReply>((resolve, reject) => {
      this.#start(queue, body, options, resolve, reject);
    });
  }

  #start(
    queue: string,
    body: SendBody,
    options: RequestOptions,
    resolve: (reply: ReceivedReply) => void,
    reject: (error: EdgeMQError) => void,
  ): void {
    const built = this.#build(queue, body, options);
    if (built instanceof EdgeMQError) {
      reject(built);
      return;
    }
    const { id } = built;
    const signal = options.signal;
    const timeoutMs = options.timeout ?? this.#options.limits().defaultTimeoutMs;
    const now = Date.now();
    const entry: Pending = {
      frame: built,
      route: undefined,
      expiresAt: now + timeoutMs,
      deadline: undefined,
      timer: undefined,
      retry: undefined,
      refusals: 0,
      copySent: false,
      resolve,
      reject,
      detach: () => stopWatching(),
    };
    const abortRequest = () => {
      if (!this.#settle(id, { ok: false, error: abortedError(signal) })) return;
      const cancel: CancelFrame = { type: "cancel", id, queue };
      this.#options.send(cancel);
      // The relay may hold the request (it went out): the cancel is kept until it takes, so a
      // refusal or a drop does not let a server run the request anyway.
      if (entry.route !== undefined) {
        this.#keepCancel({
          frame: cancel,
          expiresAt: entry.expiresAt,
          refusals: 0,
          retry: undefined,
        });
      }
    };
    entry.timer = startTimer(() => this.#deadlinePassed(id, entry), timeoutMs);
    const stopWatching = signal === undefined ? () => {} : onAbort(signal, abortRequest);
    this.#pending.set(id, entry);
    this.#send(id, entry, now);
  }

  /** Handles `accepted`, `reply` and `error {id}` frames from the relay, arrived on `route`. */
  handle(frame: AcceptedFrame | ReplyFrame | ErrorFrame, route: Route = DEFAULT_ROUTE): void {
    if (frame.id === undefined) return;
    if (frame.type === "accepted") {
      const entry = this.#pending.get(frame.id);
      if (entry) {
        entry.deadline = frame.deadline;
        entry.refusals = 0;
        entry.copySent = false;
      }
      return;
    }
    if (this.#cancelAnswered(frame)) return;
    const entry = this.#pending.get(frame.id);
    if (frame.type === "error" && entry && isResendRefusal(frame, entry)) {
      // Not the request's outcome: no ack, which would tell the relay its outcome arrived.
      this.#sendLater(frame.id, entry);
      return;
    }
    this.#ack(frame.id, route);
    if (frame.type === "reply") this.#settle(frame.id, decodeOutcome(frame));
    else this.#settle(frame.id, { ok: false, error: EdgeMQError.fromWire(frame) });
  }

  /**
   * Re-sends the unfinished requests `select` picks (default: all; same id: the relay
   * de-duplicates) after a reconnect, each with the time left to its deadline (one with none left
   * settles `timeout` instead). `select` sees the route that last took each one. First it sends
   * the kept cancels (all of them, whatever `select` picks), dropping those whose request's
   * deadline passed.
   */
  resend(select: ResendFilter = () => true): void {
    const now = Date.now();
    for (const [id, cancel] of [...this.#cancels]) {
      if (cancel.expiresAt <= now) this.#dropCancel(id);
      else this.#options.send(cancel.frame);
    }
    for (const [id, entry] of [...this.#pending]) {
      if (!select(entry.frame, entry.route)) continue;
      this.#send(id, entry, now);
    }
  }

  /** Rejects every unfinished request and refuses new ones with `error`. */
  rejectAll(error: EdgeMQError): void {
    this.#closed ??= error;
    for (const id of [...this.#cancels.keys()]) this.#dropCancel(id);
    for (const id of [...this.#pending.keys()]) this.#settle(id, { ok: false, error });
  }

  /** Refuses new requests with `error`; the unfinished ones carry on to their own outcome. */
  stopAccepting(error: EdgeMQError): void {
    this.#closed ??= error;
  }

  /**
   * Resolves once no request is unfinished. Bounded: every request settles by its local backstop
   * (its timeout plus the grace) at the latest.
   */
  idle(): Promise<void> {
    if (this.#pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Sends the acks gathered so far now, instead of at the end of the tick, each on the route its
   * outcome came on (when that route is no longer open, the ack is dropped: the relay re-delivers).
   */
  flushAcks(): void {
    this.#ackScheduled = false;
    const acks = this.#acks;
    this.#acks = new Map();
    for (const [route, ids] of acks) {
      for (let i = 0; i < ids.length; i += MAX_ACK_IDS) {
        this.#options.sendAck({ type: "ack", ids: ids.slice(i, i + MAX_ACK_IDS) }, route);
      }
    }
  }

  #build(queue: string, body: SendBody, options: RequestOptions): RequestFrame | EdgeMQError {
    if (this.#closed) return this.#closed;
    if (options.signal?.aborted) return abortedError(options.signal);
    if (this.#pending.size >= this.#options.maxPending) {
      return pendingLimitError(this.#pending.size);
    }
    if (!isQueueName(queue)) {
      return new EdgeMQError(ERROR_CODE.badRequest, `queue must be ${QUEUE_NAME_RULE}`);
    }
    const limits = this.#options.limits();
    const { timeout, failFast, headers } = options;
    if (timeout !== undefined && !(Number.isSafeInteger(timeout) && timeout > 0)) {
      return new EdgeMQError(ERROR_CODE.badRequest, "timeout must be a positive integer of ms");
    }
    if (timeout !== undefined && timeout > limits.maxTimeoutMs) {
      return new EdgeMQError(ERROR_CODE.badRequest, `timeout over ${limits.maxTimeoutMs} ms`);
    }
    const wire = encodeChecked(body, limits);
    if (wire instanceof EdgeMQError) return wire;
    const frame: RequestFrame = { type: "request", id: this.#ids.take(), queue, body: wire };
    if (timeout !== undefined) frame.timeout = timeout;
    if (failFast !== undefined) frame.failFast = failFast;
    if (headers !== undefined) {
      const checked = readHeaders(headers);
      if (typeof checked === "string") return new EdgeMQError(ERROR_CODE.badRequest, checked);
      frame.headers = checked;
    }
    return frame;
  }

  /**
   * Sends (or re-sends) a request with the time left to its deadline, as a positive integer of ms
   * within the relay's maximum. With no time left it is not sent: one never sent settles `timeout`
   * now; one that went out before waits for its backstop (#deadlinePassed), since its outcome may
   * be on its way (a reply made in time while the client was away comes from the outbox right
   * after the reconnect's welcome, which is when resend() runs).
   */
  #send(id: string, entry: Pending, now: number): void {
    stopTimer(entry.retry);
    entry.retry = undefined;
    const left = entry.expiresAt - now;
    if (left <= 0) {
      if (entry.route === undefined) this.#expire(id);
      return;
    }
    const timeout = Math.max(1, Math.min(Math.ceil(left), this.#options.limits().maxTimeoutMs));
    const route = this.#options.send({ ...entry.frame, timeout });
    if (route === undefined) return;
    if (entry.route !== undefined) entry.copySent = true;
    entry.route = route;
  }

  /** Keeps a cancel until it takes, dropping those whose request is over anyway. */
  #keepCancel(cancel: KeptCancel): void {
    const now = Date.now();
    for (const [id, kept] of [...this.#cancels]) {
      if (kept.expiresAt <= now) this.#dropCancel(id);
    }
    this.#cancels.set(cancel.frame.id, cancel);
  }

  #dropCancel(id: string): void {
    stopTimer(this.#cancels.get(id)?.retry);
    this.#cancels.delete(id);
  }

  /**
   * A frame about a kept cancel's request: a refusal of the cancel sends it again later (and is
   * not acked: it is no outcome); an outcome means the cancel is done with. True when handled (an
   * error with `about` always is: it never settles or acks a request, and an `about` this SDK
   * does not know is ignored).
   */
  #cancelAnswered(frame: ReplyFrame | ErrorFrame): boolean {
    if (frame.type === "error" && frame.about !== undefined && frame.about !== "cancel")
      return true;
    const id = frame.id;
    const kept = id === undefined ? undefined : this.#cancels.get(id);
    const aboutCancel = frame.type === "error" && frame.about === "cancel";
    if (id === undefined || kept === undefined || this.#pending.has(id)) return aboutCancel;
    if (frame.type === "reply" || !CANCEL_REFUSALS.has(frame.code)) {
      this.#dropCancel(id);
      return aboutCancel;
    }
    retryLater(kept, () => {
      if (this.#cancels.get(id) !== kept) return;
      if (Date.now() >= kept.expiresAt) this.#dropCancel(id);
      else this.#options.send(kept.frame);
    });
    return true;
  }

  /**
   * Sends a request again after a backoff, when the relay refused its re-send: never later than its
   * deadline, after which it waits for its outcome until its backstop settles `timeout`.
   * Disconnected meanwhile, it goes with the reconnect's re-send instead.
   */
  #sendLater(id: string, entry: Pending): void {
    retryLater(entry, () => {
      if (this.#pending.get(id) === entry) this.#send(id, entry, Date.now());
    });
  }

  /**
   * At the deadline: a request never sent (disconnected all along) has no outcome to wait for and
   * settles `timeout` now; one that went out waits `graceMs` more for the relay's outcome (a reply
   * made just in time may still be on its way), its local backstop.
   */
  #deadlinePassed(id: string, entry: Pending): void {
    if (this.#pending.get(id) !== entry) return;
    if (entry.route === undefined) {
      this.#expire(id);
      return;
    }
    entry.timer = startTimer(() => this.#expire(id), this.#options.graceMs);
  }

  /** Settles a request `timeout`: its local backstop fired, or its deadline passed unsent. */
  #expire(id: string): void {
    const entry = this.#pending.get(id);
    if (!entry) return;
    const error = new EdgeMQError(ERROR_CODE.timeout, `no reply from ${entry.frame.queue} in time`);
    this.#settle(id, { ok: false, error });
  }

  #settle(id: string, outcome: Outcome): boolean {
    const entry = this.#pending.get(id);
    if (!entry) return false;
    this.#pending.delete(id);
    stopTimer(entry.timer);
    stopTimer(entry.retry);
    entry.detach();
    if (outcome.ok) entry.resolve(outcome.reply);
    else entry.reject(outcome.error);
    if (this.#pending.size === 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const wake of waiters) wake();
    }
    return true;
  }

  #ack(id: string, route: Route): void {
    const ids = this.#acks.get(route);
    if (ids) ids.push(id);
    else this.#acks.set(route, [id]);
    if (this.#ackScheduled) return;
    this.#ackScheduled = true;
    void Promise.resolve().then(() => {
      if (this.#ackScheduled) this.flushAcks();
    });
  }
}

function encodeChecked(body: SendBody, limits: Limits): WireBody | EdgeMQError {
  let wire: WireBody;
  try {
    wire = encodeBody(body);
  } catch (error) {
    return bodyError(error);
  }
  if (bodySize(wire) > limits.maxBodyBytes) {
    return new EdgeMQError(ERROR_CODE.tooLarge, `body over ${limits.maxBodyBytes} bytes`);
  }
  const overFrame = bodyFrameRefusal(wire, limits);
  if (overFrame !== undefined) return new EdgeMQError(ERROR_CODE.tooLarge, overFrame);
  return wire;
}

/**
 * What encoding a request body threw, as the request's error: JSON.stringify throws a TypeError on
 * a cycle (and a toJSON may throw anything), which is the caller's body at fault
 * (`bad_request`), as for a function body, not the SDK (`internal`). The thrown message says
 * where (V8 names the property that closes a cycle).
 */
export function bodyError(error: unknown): EdgeMQError {
  if (error instanceof EdgeMQError) return error;
  const why = error instanceof Error && error.message !== "" ? `: ${error.message}` : "";
  return new EdgeMQError(ERROR_CODE.badRequest, `body is not serialisable as JSON${why}`, {
    cause: error,
  });
}

/** request() past `maxPendingRequests`, with `size` requests unfinished (either transport). */
export function pendingLimitError(size: number): EdgeMQError {
  const unfinished = size === 1 ? "1 request is unfinished" : `${size} requests are unfinished`;
  return new EdgeMQError(ERROR_CODE.tooManyInFlight, `${unfinished} (maxPendingRequests)`);
}

/**
 * A reply frame as the request's outcome (a corrupt body is its error): its body, its media type
 * (the one its server named, else its encoding's: contentTypeOf, as the relay gives it over
 * HTTP) and its headers. The same on either transport.
 */
export function decodeOutcome(frame: Pick<ReplyFrame, "body" | "headers">): Outcome {
  try {
    const reply = {
      body: decodeBody(frame.body),
      contentType: contentTypeOf(frame.body),
      headers: frame.headers ?? {},
    };
    return { ok: true, reply };
  } catch (error) {
    return { ok: false, error: EdgeMQError.from(error) };
  }
}

/**
 * Whether an error refuses a re-sent copy of a request rather than ending the request: a copy of
 * one the relay had already accepted, or of one that had already gone out before (the relay may
 * hold it though no `accepted` reached the SDK: the socket dropped first). Such a refusal is sent
 * again later (#sendLater) until the relay accepts or answers it, or its deadline passes. Neither
 * refusal is ever a queue's outcome:
 * - `rate_limited`: the exchange's rate limit refused the copy before any queue saw it. A durable
 *   queue may still hold the request (the copy would only have been de-duplicated), but a `memory`
 *   queue forgets everything on a relay restart, and the first send may never have arrived, so the
 *   copy may be all that is left of it: ignoring the refusal would lose the request until the
 *   local backstop, and settling it would report a failure for a request a server may still run.
 * - `internal` answering a re-sent copy (no `accepted` for it yet: "queue ... is unavailable;
 *   retry later", "the queue did not answer this request"): the exchange could not reach the
 *   queue. Settling would report a failure for a request a durable queue still holds and will
 *   still run (its outcome would then reach a settled promise), and a `memory` queue may have lost
 *   it, so ignoring the refusal is no better: sending it again covers both. An `internal` with no
 *   copy outstanding is the queue's own outcome (e.g. an unreadable stored request) and settles.
 * - `too_many_in_flight` answering a copy: the exchange holds so many of this client's outcomes
 *   unacked (its cap) that it takes only re-sends of requests their queue holds, or the queue's
 *   in-flight limit is reached, and the queue does not hold this one (a `memory` queue lost it in
 *   a restart, or the first send never arrived). It passes once the client's acks catch up or its
 *   requests end, as a `rate_limited` copy does once the bucket refills.
 * A request's first send gets these refusals as its outcome (`rate_limited` and
 * `too_many_in_flight` are then final, as documented), as does an accepted request's `internal`
 * with no copy outstanding.
 */
function isResendRefusal(frame: ErrorFrame, entry: Pending): boolean {
  if (frame.code === ERROR_CODE.rateLimited || frame.code === ERROR_CODE.tooManyInFlight) {
    return entry.deadline !== undefined || entry.copySent;
  }
  return frame.code === ERROR_CODE.internal && entry.copySent;
}

/**
 * A request aborted by its caller's `signal`, on either transport: `cancelled`, or `timeout` when
 * the signal timed out (`AbortSignal.timeout()` aborts with a TimeoutError), as its deadline
 * passing would have ended it. The signal's reason is the cause.
 */
export function abortedError(signal: AbortSignalLike | undefined): EdgeMQError {
  const reason: unknown = signal?.reason;
  if (isTimeoutReason(reason)) {
    return new EdgeMQError(ERROR_CODE.timeout, "request timed out (its signal's timeout)", {
      cause: reason,
    });
  }
  return new EdgeMQError(ERROR_CODE.cancelled, "request cancelled", { cause: reason });
}

function isTimeoutReason(reason: unknown): boolean {
  return typeof reason === "object" && reason !== null && "name" in reason
    ? reason.name === "TimeoutError"
    : false;
}
