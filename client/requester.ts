/**
 * The requesting side of a peer: the map of unfinished requests, each settled exactly once (reply,
 * error, local backstop timeout, abort or close), acks for every outcome the relay delivers (on the
 * route it came on), and the re-send of unfinished requests after a reconnect. Used by peer.ts;
 * sends through callbacks, and the peer picks each frame's route (a socket).
 */
import {
  type AcceptedFrame,
  type AckFrame,
  type Body,
  bodySize,
  type CancelFrame,
  decodeBody,
  EdgeMQError,
  ERROR_CODE,
  type ErrorFrame,
  encodeBody,
  type Headers,
  isQueueName,
  type Limits,
  PATHS,
  type ReplyFrame,
  type RequestFrame,
  readHeaders,
  type WireBody,
} from "../protocol/index.js";
import { type AbortSignalLike, startTimer, stopTimer, type TimerHandle } from "./platform.js";
import { RequestIds } from "./request-ids.js";

export interface RequestOptions {
  /** Milliseconds the relay waits for a reply (default and maximum: welcome.limits). */
  timeout?: number;
  /** Fail at once with `no_responders` when no server serves the queue. */
  failFast?: boolean;
  headers?: Headers;
  /** Aborting rejects the request with `cancelled` and asks the relay to drop it. */
  signal?: AbortSignalLike;
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
  createdAt: number;
  deadline: number | undefined;
  timer: TimerHandle | undefined;
  resolve(body: Body): void;
  reject(error: EdgeMQError): void;
  detach(): void;
}

/** Picks requests to re-send, from their frame and the route that last took them. */
export type ResendFilter = (frame: RequestFrame, route: Route | undefined) => boolean;

type Outcome = { ok: true; body: Body } | { ok: false; error: EdgeMQError };

/** Most ids in one ack frame. */
const MAX_ACK_IDS = 1_000;

export class Requester {
  readonly #options: RequesterOptions;
  readonly #pending = new Map<string, Pending>();
  readonly #ids = new RequestIds();
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

  request(queue: string, body: Body, options: RequestOptions = {}): Promise<Body> {
    return new Promise<Body>((resolve, reject) => {
      const built = this.#build(queue, body, options);
      if (built instanceof EdgeMQError) {
        reject(built);
        return;
      }
      const { id } = built;
      const signal = options.signal;
      const onAbort = () => {
        if (this.#settle(id, { ok: false, error: cancelled(signal) })) {
          this.#options.send({ type: "cancel", id, queue });
        }
      };
      const limits = this.#options.limits();
      const entry: Pending = {
        frame: built,
        route: undefined,
        createdAt: Date.now(),
        deadline: undefined,
        timer: undefined,
        resolve,
        reject,
        detach: () => signal?.removeEventListener("abort", onAbort),
      };
      const waitMs = (options.timeout ?? limits.defaultTimeoutMs) + this.#options.graceMs;
      entry.timer = startTimer(() => {
        const error = new EdgeMQError(ERROR_CODE.timeout, `no reply from ${queue} in time`);
        this.#settle(id, { ok: false, error });
      }, waitMs);
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#pending.set(id, entry);
      entry.route = this.#options.send(built);
    });
  }

  /** Handles `accepted`, `reply` and `error {id}` frames from the relay, arrived on `route`. */
  handle(frame: AcceptedFrame | ReplyFrame | ErrorFrame, route: Route = DEFAULT_ROUTE): void {
    if (frame.id === undefined) return;
    if (frame.type === "accepted") {
      const entry = this.#pending.get(frame.id);
      if (entry) entry.deadline = frame.deadline;
      return;
    }
    this.#ack(frame.id, route);
    if (frame.type === "error" && isResendRefusal(frame, this.#pending.get(frame.id))) return;
    if (frame.type === "reply") this.#settle(frame.id, decodeOutcome(frame.body));
    else this.#settle(frame.id, { ok: false, error: EdgeMQError.fromWire(frame) });
  }

  /**
   * Re-sends the unfinished requests `select` picks (default: all; same id: the relay
   * de-duplicates) after a reconnect. `select` sees the route that last took each one.
   */
  resend(select: ResendFilter = () => true): void {
    const now = Date.now();
    for (const entry of this.#pending.values()) {
      if (!select(entry.frame, entry.route)) continue;
      const { timeout } = entry.frame;
      const frame =
        timeout === undefined
          ? entry.frame
          : { ...entry.frame, timeout: Math.max(1, timeout - (now - entry.createdAt)) };
      entry.route = this.#options.send(frame) ?? entry.route;
    }
  }

  /** Rejects every unfinished request and refuses new ones with `error`. */
  rejectAll(error: EdgeMQError): void {
    this.#closed ??= error;
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

  #build(queue: string, body: Body, options: RequestOptions): RequestFrame | EdgeMQError {
    if (this.#closed) return this.#closed;
    if (options.signal?.aborted) return cancelled(options.signal);
    if (this.#pending.size >= this.#options.maxPending) {
      return new EdgeMQError(
        ERROR_CODE.tooManyInFlight,
        `${this.#pending.size} requests are unfinished (maxPendingRequests)`,
      );
    }
    if (!isQueueName(queue)) {
      return new EdgeMQError(ERROR_CODE.badRequest, "queue must match [A-Za-z0-9._-]{1,128}");
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

  #settle(id: string, outcome: Outcome): boolean {
    const entry = this.#pending.get(id);
    if (!entry) return false;
    this.#pending.delete(id);
    stopTimer(entry.timer);
    entry.detach();
    if (outcome.ok) entry.resolve(outcome.body);
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

function encodeChecked(body: Body, limits: Limits): WireBody | EdgeMQError {
  let wire: WireBody;
  try {
    wire = encodeBody(body);
  } catch (error) {
    return EdgeMQError.from(error);
  }
  if (bodySize(wire) > limits.maxBodyBytes) {
    return new EdgeMQError(ERROR_CODE.tooLarge, `body over ${limits.maxBodyBytes} bytes`);
  }
  return wire;
}

function decodeOutcome(body: WireBody): Outcome {
  try {
    return { ok: true, body: decodeBody(body) };
  } catch (error) {
    return { ok: false, error: EdgeMQError.from(error) };
  }
}

/**
 * Whether an error answers a re-sent copy of a request the relay had already accepted and stored,
 * not the request itself: a `rate_limited` refusal is never a queue's outcome, so the stored
 * request still ends with its own reply or error (and the local backstop bounds the wait).
 */
function isResendRefusal(frame: ErrorFrame, entry: Pending | undefined): boolean {
  return entry?.deadline !== undefined && frame.code === ERROR_CODE.rateLimited;
}

function cancelled(signal: AbortSignalLike | undefined): EdgeMQError {
  return new EdgeMQError(ERROR_CODE.cancelled, "request cancelled", { cause: signal?.reason });
}
