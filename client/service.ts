/**
 * A served queue: its own reconnecting server socket, `ready {concurrency}` after each welcome,
 * handlers for dispatched requests (at most `concurrency` at once), their replies or failures,
 * lease extensions for long handlers, and a draining close. Handlers keep running while the
 * socket is down: after the next welcome, `ready {holding}` claims the leases of what is still in
 * hand (the relay moves them to the new connection, or answers `cancel`), and the answers
 * finished meanwhile follow it, with those the dead socket may not have delivered, so a
 * reconnect or relay restart does not run them again; a close() meanwhile waits for that (until
 * their deadlines at most). Created by SocketPeer.serve (peer.ts);
 * the HTTP transport's counterpart is http-service.ts.
 */

import {
  bodyFrameRefusal,
  bodySize,
  contentTypeOf,
  DEFAULT_LIMITS,
  type DispatchFrame,
  decodeBody,
  EdgeMQError,
  ERROR_CODE,
  type Frame,
  type Headers,
  type ReceivedBody,
  type ServerFrame,
  type WelcomeFrame,
} from "../protocol/index.js";
import type { BackoffOptions } from "./backoff.js";
import { Connection } from "./connection.js";
import { failureMessage } from "./handler-failure.js";
import { HandlerSignal, RELAY_ENDED_MESSAGE } from "./handler-signal.js";
import { renewEvery } from "./lease-renewal.js";
import { type LoneGate, runsAlone } from "./lone-gate.js";
import type { Service } from "./peer-api.js";
import {
  type AbortSignalLike,
  type PlatformAbortSignal,
  startTimer,
  stopTimer,
  type TimerHandle,
} from "./platform.js";
import type { RelayReachability } from "./relay-reachability.js";
import type { Status } from "./status.js";
import { type ReplyBody, replyHeadersOf, replyHeadersRefusal, wireReplyOf } from "./typed-body.js";
import type { LiveCredentials } from "./url.js";
import type { WebSocketConstructor } from "./websocket.js";

/**
 * One dispatched request, as a handler sees it. `T` is the body's type as the handler takes it
 * (`serve<T>()`; by default any Body): not checked at run time.
 */
export interface ServeRequest<T = ReceivedBody> {
  /** The relay's id for this dispatch. */
  readonly id: string;
  /** The requester's identity, set by the relay (never by the requester). */
  readonly from: string;
  /** The queue it was sent to (the one served). */
  readonly queue: string;
  /** The request's body, as the client sent it (a JSON value, a string or bytes; null for none). */
  readonly body: T;
  /**
   * The body's media type: the one its sender named (an HTTP client's Content-Type, a body the
   * SDK sent typed), else its kind's (application/json for a JSON value, text/plain;
   * charset=utf-8 for a string, application/octet-stream for bytes), as the relay gives it to
   * HTTP servers (docs/http-api.md#bodies). The same on either transport.
   */
  readonly contentType: string;
  /** The headers the client sent (`{}` for none). */
  readonly headers: Headers;
  /** Epoch milliseconds after which the requester has been answered `timeout`. */
  readonly deadline: number;
  /** 1 on the first dispatch, more after a server was lost while holding it. */
  readonly attempt: number;
  /** The queue partition that dispatched it (0 unless the queue is partitioned; scaling.md). */
  readonly partition: number;
  /** Aborted when the relay cancels the request or its deadline passes. */
  readonly signal: PlatformAbortSignal & AbortSignalLike;
}

/**
 * A handler's return value, or what its promise resolves to (an async handler), is the reply body
 * (`typed(body, contentType)` names its media type, `reply(body, { headers, contentType })` adds
 * the reply's headers), nothing for no body (a handler declared
 * `void` or `Promise<void>` included); a throw or rejection becomes `fail {message}` (no stack):
 * the client gets `server_error` with that message, whatever the thrown error's code (a domain
 * error the client should tell apart belongs in the reply body). An async handler's value is
 * checked as a sync one's is: `async () => 10n` does not compile.
 */
export type Handler<T = ReceivedBody> = (request: ServeRequest<T>) => HandlerResult;

/**
 * What a handler returns: a ReplyBody, nothing, or a promise (any thenable) of either. Promise is
 * named beside PromiseLike so that TypeScript's error for an async handler names the value it
 * resolves to, not the Promise.
 */
export type HandlerResult =
  // biome-ignore lint/suspicious/noConfusingVoidType: a return type; undefined would refuse () => {}
  ReplyBody | void | Promise<ReplyBody | void> | PromiseLike<ReplyBody | void>;

/** What `handler` answers `request` with: a handler that returned nothing (void) has no body. */
export async function handlerReply<T>(
  handler: Handler<T>,
  request: ServeRequest<T>,
): Promise<ReplyBody> {
  return (await handler(request)) as ReplyBody;
}

/** serve()'s options: every one may be left out (or undefined) for its default. */
export interface ServeOptions {
  /**
   * Most handlers running at once on this socket: 1 to 1,000, default 16, capped to the relay's
   * `maxConcurrency` (its welcome's limits).
   */
  concurrency?: number | undefined;
}

export const DEFAULT_CONCURRENCY = 16;

/**
 * How long answers handed to a socket are kept in case it dies without delivering them (a drop is
 * seen at once when the relay dies, within two missed heartbeats, about 45 s, when the connection
 * goes silent), and at most how many and how many body characters (the latest are kept).
 */
const RECENT_ANSWER_MS = 60_000;
const RECENT_ANSWER_COUNT = 1_000;
const RECENT_ANSWER_CHARS = 8 * 1024 * 1024;

/** Most ids one `extend` frame may carry (protocol). */
const MAX_EXTEND_IDS = 10_000;

export interface ServiceSetup {
  queue: string;
  handler: Handler;
  concurrency: number;
  url: string;
  /** Signed mode: the peer's credentials, read at each open (connection.ts). */
  credentials: LiveCredentials | undefined;
  WebSocket: WebSocketConstructor;
  backoff: BackoffOptions;
  /** The peer's, shared by all of its sockets (connection.ts `reachability`). */
  reachability?: RelayReachability | undefined;
  /** The peer's, shared by all of its services: when a handler may start (lone-gate.ts). */
  gate: LoneGate;
  status(status: Status): void;
  closed(service: SocketService): void;
  /** The partition this socket asks for (`?partition=`); undefined asks for the default, 0. */
  partition?: number;
  /** Each welcome, before `ready` is sent (partitioned-service.ts reads its partition count). */
  welcomed?(frame: WelcomeFrame): void;
  /** Why reconnects keep failing as a bare 1006 (connection.ts): a refusal ends the service. */
  explainRefusal?: (() => Promise<EdgeMQError | undefined>) | undefined;
  /**
   * The socket was refused for good: partitioned-service.ts. Returns when its owner opens the
   * partition again (reported as `reconnecting`), or undefined (reported as an `error`).
   */
  terminated?(error: EdgeMQError): Reopening | undefined;
}

/** A refused socket opened again by its owner: the attempt, and after how long. */
export interface Reopening {
  attempt: number;
  delayMs: number;
}

/** An answer (reply or fail) and its request's deadline: past it, it can no longer be delivered. */
interface Answer {
  frame: ServerFrame;
  deadline: number;
  /**
   * It went out on a socket that then dropped (#recent): most likely delivered, so it is sent
   * again if a socket comes back, but close() does not wait for one (see #flush).
   */
  handedOver?: true;
}

interface Running {
  abort(reason: EdgeMQError): void;
  /** Frees its place in the peer's lone gate (at its answer or cancel). */
  release(): void;
  cancelled: boolean;
  /** The request's deadline (epoch ms): past it, its answer can no longer be delivered. */
  deadline: number;
}

export class SocketService implements Service {
  readonly queue: string;
  /** Resolves once the relay welcomed the server socket and `ready` was sent. */
  readonly ready: Promise<void>;
  readonly #setup: ServiceSetup;
  readonly #connection: Connection;
  readonly #running = new Map<string, Running>();
  readonly #waiting: DispatchFrame[] = [];
  /** Answers finished while the socket was down, sent after the next `ready {holding}`. */
  readonly #unsent = new Map<string, Answer>();
  /**
   * Answers handed to the current socket lately (RECENT_ANSWER_*): a socket
   * that dies may not have delivered them, so a drop moves them to #unsent, to be claimed and sent
   * again (the relay refuses a copy of one that arrived, which is ignored).
   */
  readonly #recent = new Map<string, { answer: Answer; at: number; chars: number }>();
  #recentChars = 0;
  #closing: Promise<void> | undefined;
  /** While close() drains: checks whether a request is still held (after each run, cancel). */
  #drained: (() => void) | undefined;
  /** While close() waits for unsent answers to go out: checks again (after each welcome). */
  #flushed: (() => void) | undefined;
  /** A `ready` is queued for this tick's cancels (#readyAfterCancel). */
  #readyQueued = false;
  /**
   * Runs that hold a slot: started, not finished, not cancelled. A cancelled run's handler may go
   * on (it ignores req.signal), but the relay freed its slot at the cancel, so it holds none here.
   */
  #active = 0;
  #extendTimer: TimerHandle | undefined;
  /** Handlers at once; partitioned-service.ts may change it (setConcurrency). */
  #concurrency: number;
  /** The partition this socket serves and the queue's partition count (from the welcome). */
  #partition: number;
  #partitions = 1;
  /** Stops waking this service when the peer's lone gate opens (at close). */
  readonly #unlisten: () => void;

  constructor(setup: ServiceSetup) {
    this.#setup = setup;
    this.queue = setup.queue;
    this.#concurrency = setup.concurrency;
    this.#partition = setup.partition ?? 0;
    this.#connection = new Connection({
      url: setup.url,
      credentials: setup.credentials,
      WebSocket: setup.WebSocket,
      backoff: setup.backoff,
      reachability: setup.reachability,
      retryFirst: true,
      queue: setup.queue,
      explainRefusal: setup.explainRefusal,
      // A server socket pings at the busy pace even when idle: a dispatch may go into it at any
      // moment, and one sent into a socket gone half-open waits for the SDK to notice (then its
      // lease is returned on the new socket's `ready`), so noticing must come well inside a lease.
      busy: () => true,
      events: {
        welcome: (frame) => this.#welcomed(frame),
        frame: (frame) => this.#onFrame(frame),
        status: (status) => this.#status(status),
        terminated: (error) => {
          // Refused for good: what was not sent never will be, and close() need not wait for it.
          this.#unsent.clear();
          this.#flushed?.();
          const reopening = setup.terminated?.(error);
          if (reopening === undefined) this.#status({ type: "error", error, queue: setup.queue });
          else this.#status({ type: "reconnecting", ...reopening, queue: setup.queue });
        },
      },
    });
    this.ready = this.#connection.opened.then(() => {});
    this.ready.catch(() => {});
    this.#unlisten = setup.gate.listen(() => this.#startWaiting());
  }

  /** The partition this socket serves (0 until a partitioned queue's welcome says otherwise). */
  get partition(): number {
    return this.#partition;
  }

  /** Changes how many handlers run at once, telling the relay (`ready`) if it is connected. */
  setConcurrency(concurrency: number): void {
    this.#concurrency = concurrency;
    if (this.#closing === undefined) this.#connection.send({ type: "ready", concurrency });
    this.#startWaiting();
  }

  /** Handlers running or waiting for a slot. */
  get inHand(): number {
    return this.#running.size + this.#waiting.length;
  }

  /** Takes no more requests, finishes (and replies to) those in hand, then closes the socket. */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #shutdown(): Promise<void> {
    this.#connection.send({ type: "ready", concurrency: 0 });
    await this.#drain();
    await this.#flush();
    this.#stopExtending();
    await this.#connection.close();
    this.#unlisten();
    this.#setup.closed(this);
  }

  /**
   * Resolves once no request is held any more: each running one has answered, or is over (the
   * relay cancelled it, or its deadline passed), so its answer could not be delivered anyway and a
   * handler that ignores `req.signal` does not hold close() up. Waiting ones count until their
   * deadline too. Re-checked after each run and cancel, and at the latest deadline held.
   */
  #drain(): Promise<void> {
    return new Promise<void>((resolve) => {
      let timer: TimerHandle | undefined;
      const check = () => {
        stopTimer(timer);
        const until = this.#heldUntil();
        if (until === undefined) {
          this.#drained = undefined;
          resolve();
          return;
        }
        timer = startTimer(check, until - Date.now() + 1);
      };
      this.#drained = check;
      check();
    });
  }

  /**
   * Resolves once the answers finished while the socket was down went out (the next welcome's
   * `ready {holding}` claims them, then they follow), or once their requests' deadlines passed:
   * they could not be delivered then. So close() during a drop does not lose them, which would
   * run their requests again on another server. Re-checked after each welcome. Answers that went
   * out before the drop (handedOver) are not waited for: their clients most likely have them, and
   * close() during an outage waited up to their deadlines (5 min at most) for nothing.
   */
  #flush(): Promise<void> {
    return new Promise<void>((resolve) => {
      let timer: TimerHandle | undefined;
      const check = () => {
        stopTimer(timer);
        const until = this.#unsentUntil();
        if (until === undefined) {
          this.#flushed = undefined;
          resolve();
          return;
        }
        timer = startTimer(check, until - Date.now() + 1);
      };
      this.#flushed = check;
      check();
    });
  }

  /** The latest deadline still ahead of the answers close() waits to send (#flush). */
  #unsentUntil(): number | undefined {
    const now = Date.now();
    let until: number | undefined;
    for (const { deadline, handedOver } of this.#unsent.values()) {
      if (handedOver) continue;
      if (deadline > now && (until === undefined || deadline > until)) until = deadline;
    }
    return until;
  }

  /** The latest deadline of the requests still held (running, not cancelled, or waiting). */
  #heldUntil(): number | undefined {
    const now = Date.now();
    let until: number | undefined;
    const hold = (deadline: number) => {
      if (deadline > now && (until === undefined || deadline > until)) until = deadline;
    };
    for (const running of this.#running.values()) if (!running.cancelled) hold(running.deadline);
    for (const frame of this.#waiting) hold(frame.deadline);
    return until;
  }

  #welcomed(frame: WelcomeFrame): void {
    this.#partitions = frame.partitions ?? 1;
    this.#partition = frame.partition ?? this.#setup.partition ?? 0;
    this.#setup.welcomed?.(frame);
    this.#sendReady();
  }

  /** Statuses name the partition once the queue is known to have several. */
  #status(status: Status): void {
    if (status.type === "disconnected") this.#dropped();
    const partitioned = this.#partitions > 1 || this.#setup.partition !== undefined;
    if (!partitioned || status.type === "closed") this.#setup.status(status);
    else this.#setup.status({ ...status, partition: this.#partition });
  }

  /** `ready` after a welcome, claiming what is in hand from an earlier socket, then its answers. */
  #sendReady(): void {
    const concurrency = this.#closing ? 0 : this.#concurrency;
    const holding = this.#holding();
    this.#connection.send(
      holding.length === 0
        ? { type: "ready", concurrency }
        : { type: "ready", concurrency, holding },
    );
    const unsent = [...this.#unsent];
    this.#unsent.clear();
    for (const [id, answer] of unsent) this.#sendAnswer(id, answer);
    this.#flushed?.();
  }

  /** Sends an answer, remembering it a while; kept for the next socket when none is open. */
  #sendAnswer(id: string, answer: Answer): void {
    if (!this.#connection.send(answer.frame)) {
      this.#unsent.set(id, answer);
      return;
    }
    const now = Date.now();
    const chars = answer.frame.type === "reply" ? answer.frame.body.data.length : 0;
    this.#recentChars -= this.#recent.get(id)?.chars ?? 0;
    this.#recent.delete(id);
    this.#recent.set(id, { answer, at: now, chars });
    this.#recentChars += chars;
    for (const [oldId, old] of this.#recent) {
      const within =
        old.at > now - RECENT_ANSWER_MS &&
        this.#recentChars <= RECENT_ANSWER_CHARS &&
        this.#recent.size <= RECENT_ANSWER_COUNT;
      if (within) break;
      this.#recent.delete(oldId);
      this.#recentChars -= old.chars;
    }
  }

  /** The socket dropped: what it was lately handed may be lost with it (see #recent). */
  #dropped(): void {
    for (const [id, { answer }] of this.#recent) {
      this.#unsent.set(id, { ...answer, handedOver: true });
    }
    this.#recent.clear();
    this.#recentChars = 0;
  }

  /** Dispatch ids in hand: running (not cancelled), waiting for a slot, or answered unsent. */
  #holding(): string[] {
    const ids: string[] = [];
    for (const [id, running] of this.#running) if (!running.cancelled) ids.push(id);
    for (const frame of this.#waiting) ids.push(frame.id);
    for (const id of this.#unsent.keys()) ids.push(id);
    return ids.slice(0, MAX_EXTEND_IDS);
  }

  #onFrame(frame: Frame): void {
    switch (frame.type) {
      case "dispatch": {
        const lone = runsAlone(frame.attempt, this.#connection.limits.maxAttempts);
        this.#setup.gate.arrive(frame, lone, frame.deadline);
        this.#waiting.push(frame);
        this.#startExtending();
        this.#startWaiting();
        return;
      }
      case "cancel":
        this.#cancel(frame.id);
        return;
      case "error":
        // An error about one of our replies (not leased any more, expired) needs no action.
        if (frame.id === undefined) {
          const error = EdgeMQError.fromWire(frame);
          this.#status({ type: "error", error, queue: this.queue });
        }
        return;
      default:
        return;
    }
  }

  #cancel(id: string): void {
    const running = this.#running.get(id);
    if (running) {
      this.#readyAfterCancel();
      if (!running.cancelled) this.#active--;
      running.cancelled = true;
      running.release();
      running.abort(new EdgeMQError(ERROR_CODE.cancelled, RELAY_ENDED_MESSAGE));
      this.#startWaiting();
      this.#checkDrained();
      return;
    }
    const index = this.#waiting.findIndex((frame) => frame.id === id);
    if (index >= 0) this.#setup.gate.leave(this.#waiting.splice(index, 1)[0] as DispatchFrame);
    this.#checkDrained();
  }

  /**
   * Tells the relay this server is there (`ready`, once per tick of cancels). A cancel may mean a
   * lease ran out while this process was busy (a handler blocking the event loop): the relay then
   * dispatches nothing more here until it hears from this socket, and a cancelled run sends no
   * answer, so a server with nothing else in hand would otherwise stay passed over.
   */
  #readyAfterCancel(): void {
    if (this.#readyQueued || this.#closing !== undefined) return;
    this.#readyQueued = true;
    void Promise.resolve().then(() => {
      this.#readyQueued = false;
      if (this.#closing === undefined) {
        this.#connection.send({ type: "ready", concurrency: this.#concurrency });
      }
    });
  }

  /**
   * Starts waiting dispatches, in order, while a slot is free and the peer's lone gate admits
   * them (lone-gate.ts); one it drops (lone, past its deadline) leaves the list.
   */
  #startWaiting(): void {
    let index = 0;
    while (this.#active < this.#concurrency && index < this.#waiting.length) {
      const next = this.#waiting[index] as DispatchFrame;
      const admission = this.#setup.gate.admit(next);
      if (admission === "wait") index++;
      else this.#waiting.splice(index, 1);
      if (admission === "start") void this.#run(next);
    }
    this.#checkDrained();
  }

  async #run(frame: DispatchFrame): Promise<void> {
    const abort = new HandlerSignal(frame.deadline);
    const running: Running = {
      abort: (reason) => abort.abort(reason),
      release: this.#setup.gate.start(frame),
      cancelled: false,
      deadline: frame.deadline,
    };
    this.#running.set(frame.id, running);
    this.#active++;
    this.#startExtending();
    let outcome: ServerFrame;
    try {
      const request: ServeRequest = {
        id: frame.id,
        from: frame.from,
        queue: frame.queue,
        body: decodeBody(frame.body),
        contentType: contentTypeOf(frame.body),
        headers: frame.headers ?? {},
        deadline: frame.deadline,
        attempt: frame.attempt,
        partition: this.#partition,
        get signal() {
          return abort.signal;
        },
      };
      outcome = this.#replyFrame(frame.id, await handlerReply(this.#setup.handler, request));
    } catch (error) {
      outcome = { type: "fail", id: frame.id, message: failureMessage(error) };
    }
    abort.done();
    // The same id may have been dispatched again meanwhile (this run was cancelled when its lease
    // ran out): that run is the one tracked now.
    if (this.#running.get(frame.id) === running) this.#running.delete(frame.id);
    // A reply after a cancel would only be refused. While disconnected it waits for the next
    // welcome, whose `ready {holding}` claims its lease first.
    if (!running.cancelled) {
      this.#active--;
      running.release();
      this.#sendAnswer(frame.id, { frame: outcome, deadline: frame.deadline });
    }
    this.#startWaiting();
    this.#checkDrained();
  }

  #replyFrame(id: string, reply: ReplyBody): ServerFrame {
    const wire = wireReplyOf(reply);
    const max = this.#connection.limits.maxBodyBytes;
    if (bodySize(wire) > max) {
      throw new EdgeMQError(ERROR_CODE.tooLarge, `reply body over ${max} bytes`);
    }
    const overFrame = bodyFrameRefusal(wire, this.#connection.limits);
    if (overFrame !== undefined) throw new EdgeMQError(ERROR_CODE.tooLarge, `reply ${overFrame}`);
    const headers = replyHeadersOf(reply);
    const badHeaders = replyHeadersRefusal(headers, this.#connection.limits);
    if (badHeaders !== undefined) throw new EdgeMQError(ERROR_CODE.badRequest, badHeaders);
    return headers === undefined
      ? { type: "reply", id, body: wire }
      : { type: "reply", id, body: wire, headers };
  }

  #checkDrained(): void {
    // The renewal timer is left to find nothing in hand and stop itself: stopping and starting
    // it around every request of a serial client cost two timer calls each.
    this.#drained?.();
  }

  /**
   * While requests are in hand, renews their leases every third of the lease so none is redelivered:
   * the running ones (not cancelled) and those waiting for a handler slot (after a reconnect the relay may hand
   * out a full window while handlers of the old socket still run).
   */
  #startExtending(): void {
    if (this.#extendTimer !== undefined) return;
    const leaseMs = this.#connection.limits.leaseMs || DEFAULT_LIMITS.leaseMs;
    const tick = () => {
      this.#extendTimer = undefined;
      // A cancelled run's handler may run on (it ignores req.signal): the relay ended its
      // request, so its lease is not renewed (each extend would only be refused).
      const ids: string[] = [];
      for (const [id, running] of this.#running) if (!running.cancelled) ids.push(id);
      for (const frame of this.#waiting) ids.push(frame.id);
      if (ids.length === 0) return;
      this.#connection.send({ type: "extend", ids: ids.slice(0, MAX_EXTEND_IDS) });
      this.#extendTimer = startTimer(tick, renewEvery(leaseMs));
    };
    this.#extendTimer = startTimer(tick, renewEvery(leaseMs));
  }

  #stopExtending(): void {
    stopTimer(this.#extendTimer);
    this.#extendTimer = undefined;
  }
}
