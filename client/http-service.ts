/**
 * A served queue over the HTTP transport: `concurrency` loops taking with
 * `POST /v1/queues/{q}/take?wait=`, one of them long-polling each partition at a time while the
 * others wait in memory (take-gate.ts: a browser has 6 connections per host, and replies must not
 * queue behind long-polls), running the handler on what it took and posting the reply
 * (`.../replies/{id}`) or, when the handler throws, its message (`.../failures/{id}`, the client
 * gets `server_error`; so does a reply the relay refuses for its content: over its limit, or
 * not fitting its Content-Type). Its takes and lease calls ask for a lease of
 * HTTP_SERVER_LEASE_MS (`?lease=`, where the relay lists the feature), so the requests of a
 * server that crashed go back to the queue within that, well before a default deadline. While a
 * handler runs its lease is renewed every third of the
 * lease, at most every CANCEL_CHECK_MS (the length comes from the take's `EdgeMQ-Lease-Ms`), in
 * one `.../leases` call for all the service's handlers due (http-leases.ts); a renewal refused
 * (cancelled, lease lost, deadline passed) aborts the handler's signal and its reply is not sent. close()
 * stops taking (an in-flight take is abandoned and the relay told, `DELETE .../takes`, so its
 * takes still waiting there end; a request it leased to one just before comes back after its
 * lease, at the next attempt), lets the handlers in hand finish and answer, then resolves
 * (without waiting for a handler whose request is over: lease lost or deadline passed). A browser
 * tab closed or reloaded without close() sends that `DELETE` as the page goes (`pagehide`).
 * On a queue of K partitions it runs max(concurrency, K) loops, each taking from one partition
 * (http-partitions.ts), so at most max(c, K) handlers run at once, as on a WebSocket server; each
 * answer goes back to the partition its take came from (its id names it, docs/scaling.md).
 * A take refused because its partition is gone (K lowered) makes the service re-learn K and go on;
 * one refused `unauthorized` after the service took (a signed peer's token expired) waits for
 * setToken, as does a reply or failure refused so (posted then, its lease permitting); only other
 * refusals (forbidden, a bad token, ...) end it. While its loops are busy in
 * handlers, the service keeps its presence on the partitions they cannot poll (http-presence.ts),
 * so `failFast` requests and `no_responders` still see a server; `ready` resolves once the relay
 * counts it on every partition (#markReady).
 * Created by HttpPeer.serve (http-peer.ts); the WebSocket counterpart is service.ts.
 */

import {
  EdgeMQError,
  ERROR_CODE,
  encodeHeadersHeader,
  type Headers,
  HTTP_API_HEADERS,
  isIdentity,
  isRequestId,
  type Limits,
} from "../protocol/index.js";
import { failureMessage } from "./handler-failure.js";
import { RELAY_ENDED_MESSAGE } from "./handler-signal.js";
import {
  BYTES_CONTENT_TYPE,
  bodyOfHttp,
  type HttpBody,
  headersOfHttp,
  TEXT_CONTENT_TYPE,
} from "./http-body.js";
import { CANCEL_CHECK_MS, HttpLeases, reachesDeadline } from "./http-leases.js";
import { answerError, type HttpAnswer, type HttpLink, paceEmptyPoll } from "./http-link.js";
import { readCount, takeLoops, takePartition } from "./http-partitions.js";
import { PartitionPresence, PRESENCE_CHECK_MS, takeReaches } from "./http-presence.js";
import type { HttpStatus } from "./http-status.js";
import { renewEvery } from "./lease-renewal.js";
import { enterGate, type LoneGate, runsAlone } from "./lone-gate.js";
import type { Service } from "./peer-api.js";
import {
  type AbortSignalLike,
  createAbortController,
  onPageHide,
  startTimer,
  stopTimer,
  type TimerHandle,
} from "./platform.js";
import { type Handler, handlerReply, type ServeRequest } from "./service.js";
import type { Status } from "./status.js";
import { TakeGate } from "./take-gate.js";
import {
  httpReplyOf,
  httpReplyRefusal,
  replyHeadersOf,
  replyHeadersRefusal,
} from "./typed-body.js";
import type { LiveCredentials } from "./url.js";

/** Longest a take waits at the relay before answering 204 (under common proxy timeouts). */
export const TAKE_WAIT_MS = 25_000;

/** Longest close() waits for the relay to hear that the service left. */
const LEAVE_WAIT_MS = 2_000;

export interface HttpServiceSetup {
  queue: string;
  handler: Handler;
  concurrency: number;
  link: HttpLink;
  /** The peer's credentials: their revision counts setToken calls. */
  credentials: LiveCredentials;
  status: HttpStatus;
  limits: Limits;
  /** The peer's, shared by all of its services: when a handler may start (lone-gate.ts). */
  gate: LoneGate;
  /**
   * The lease to ask for (`?lease=` of takes and lease calls): HTTP_SERVER_LEASE_MS from a relay
   * whose whoami lists the "lease" feature; undefined from an older one (which refuses the
   * parameter), whose leases run its leaseMs.
   */
  leaseMs: number | undefined;
  /** Reports what the relay refused (a take that will never work, a bad dispatch). */
  report(status: Status): void;
  closed(service: HttpService): void;
}

/** A handler's reply as posted (body and headers), or the failure message to post instead. */
type HandlerOutcome =
  | { ok: true; body: HttpBody; headers: Headers | undefined }
  | { ok: false; message: string };

/** What a take handed over, read from its answer. */
interface Taken {
  id: string;
  from: string;
  deadline: number;
  attempt: number;
  leaseMs: number;
  /** `?partition=p` for its reply, failure and lease calls ("" on an unpartitioned relay). */
  partitionQuery: string;
  partition: number;
  answer: HttpAnswer;
}

export class HttpService implements Service {
  readonly queue: string;
  readonly ready: Promise<void>;
  readonly #setup: HttpServiceSetup;
  readonly #base: string;
  /** Aborts the takes in flight (close). */
  readonly #taking = createAbortController();
  /**
   * The take loops by index; each ends when closed (after its handler in hand answered), or when
   * K fell and its index is past max(concurrency, K).
   */
  readonly #loops = new Map<number, Promise<void>>();
  #inHand = 0;
  /** The signals of the handlers in hand; one aborted is over (deadline passed, lease lost). */
  readonly #handling = new Set<AbortSignalLike>();
  /** While close() drains: resolves it once every loop left is in a handler that is over. */
  #drained: (() => void) | undefined;
  /** The queue's partition count, from the latest take's EdgeMQ-Partitions. */
  #partitions = 1;
  #closing: Promise<void> | undefined;
  readonly #presence = new PartitionPresence(Date.now());
  /** Partitions with a presence call in flight. */
  readonly #presenceCalls = new Set<number>();
  #presenceTimer: TimerHandle | undefined;
  readonly #leases: HttpLeases;
  /** `&lease=<ms>` for the takes ("" from a relay that does not take it). */
  readonly #leaseParam: string;
  /** Whether a take succeeded: from then on an expired token waits for setToken (#awaitsToken). */
  #wasReady = false;
  /** Whether ready resolved, or waits for the presence call that counts it on every partition. */
  #announced = false;
  /** While takes are refused for an expired token: settles at setToken or close. */
  #renewal: { promise: Promise<void>; resolve: () => void } | undefined;
  /** One take long-polls each partition at a time; the other idle loops wait their turn. */
  readonly #gate = new TakeGate();
  /** Answers waiting for setToken after their POST was refused `unauthorized` (#tokenRenewed). */
  readonly #tokenWaits = new Set<(renewed: boolean) => void>();
  /** Removes the page's `pagehide` listener (#leaveWithPage), at close. */
  readonly #unhookPage: () => void;
  #readyResolve: () => void = () => {};
  #readyReject: (error: EdgeMQError) => void = () => {};

  constructor(setup: HttpServiceSetup) {
    this.#setup = setup;
    this.queue = setup.queue;
    this.#base = `/v1/queues/${encodeURIComponent(setup.queue)}`;
    this.#leases = new HttpLeases(
      setup.link,
      this.#base,
      (p) => this.#presence.seen(p, Date.now()),
      setup.leaseMs,
    );
    this.#leaseParam = setup.leaseMs === undefined ? "" : `&lease=${setup.leaseMs}`;
    this.ready = new Promise<void>((resolve, reject) => {
      this.#readyResolve = resolve;
      this.#readyReject = reject;
    });
    this.ready.catch(() => {});
    this.#taking.signal.addEventListener(
      "abort",
      () => {
        this.#gate.release();
        this.renewed();
      },
      { once: true },
    );
    this.#startLoops();
    this.#presenceTimer = startTimer(() => this.#keepPresent(), PRESENCE_CHECK_MS);
    this.#unhookPage = onPageHide(() => this.#leaveWithPage());
  }

  get inHand(): number {
    return this.#inHand;
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #shutdown(): Promise<void> {
    this.#taking.abort(new EdgeMQError(ERROR_CODE.closed, "service closed"));
    stopTimer(this.#presenceTimer);
    this.#unhookPage();
    for (const settle of [...this.#tokenWaits]) settle(false);
    const leaving = this.#leave();
    const drained = new Promise<void>((resolve) => {
      this.#drained = resolve;
    });
    this.#checkDrained();
    await Promise.race([Promise.all(this.#loops.values()), drained]);
    await leaving;
    this.#readyReject(new EdgeMQError(ERROR_CODE.closed, "service closed"));
    this.#setup.closed(this);
  }

  /**
   * Tells the relay this service stopped taking (`DELETE .../takes`): its takes still waiting
   * there end, where a take whose caller left would otherwise be handed a request nobody reads
   * (it then waits out its lease), and it no longer counts as connected. Best effort: bounded by
   * LEAVE_WAIT_MS, a failure changes nothing else.
   */
  async #leave(): Promise<void> {
    const controller = createAbortController();
    const timer = startTimer(() => controller.abort(), LEAVE_WAIT_MS);
    try {
      await this.#setup.link.call("DELETE", `${this.#base}/takes`, {}, controller.signal);
    } catch {
      // Out of reach, or refused: the takes end at their wait, as before.
    } finally {
      stopTimer(timer);
    }
  }

  /**
   * A tab closed or reloaded without close(): tells the relay as the page goes, in a call that
   * outlives it (`keepalive`), else its takes still waiting there are handed the next requests,
   * which then wait out their lease (under `wrangler dev`, which does not pass the hang-up on). A
   * page kept for the back/forward cache and shown again takes again, and is present again.
   */
  #leaveWithPage(): void {
    const init = { keepalive: true };
    this.#setup.link.call("DELETE", `${this.#base}/takes`, init).catch(() => {
      // Best effort: the page is going.
    });
  }

  /** Starts the loops max(concurrency, K) calls for that are not running. */
  #startLoops(): void {
    if (this.#taking.signal.aborted) return;
    const count = takeLoops(this.#setup.concurrency, this.#partitions);
    for (let i = 0; i < count; i++) {
      if (this.#loops.has(i)) continue;
      const loop = this.#loop(i).then(
        (ended) => {
          this.#loops.delete(i);
          this.#checkDrained();
          // Retired as K fell: K may have risen again meanwhile, needing its index again.
          if (ended === "retired") this.#startLoops();
        },
        (error: unknown) => {
          // Not expected (every call's failure is handled inside): reported, never left as an
          // unhandled rejection, which would end a Node process.
          this.#loops.delete(i);
          const reason = error instanceof Error ? error.message : String(error);
          const failure = new EdgeMQError(ERROR_CODE.internal, `a take loop failed: ${reason}`);
          this.#setup.report({ type: "error", error: failure, queue: this.queue });
          this.#checkDrained();
        },
      );
      this.#loops.set(i, loop);
    }
  }

  /**
   * One take loop: take, handle, answer, until closed or refused for good ("stopped"), or until K
   * fell past its index ("retired").
   */
  async #loop(index: number): Promise<"retired" | "stopped"> {
    // The first take (and one after a partition was refused) waits for nothing: it learns K.
    let relearn = true;
    while (!this.#taking.signal.aborted) {
      if (index >= takeLoops(this.#setup.concurrency, this.#partitions)) return "retired";
      const revision = this.#setup.credentials.revision;
      const take = await this.#take(index, relearn);
      if (take === undefined) return "stopped";
      const { answer } = take;
      relearn = false;
      if (answer.status === 204) {
        this.#markReady(take.partition === undefined);
        await paceEmptyPoll(take.startedAt, take.wait, this.#taking.signal);
        continue;
      }
      if (answer.status !== 200) {
        if (!this.#takeRefused(answer, take, revision)) return "stopped";
        relearn = this.#partitions <= 1;
        await paceEmptyPoll(take.startedAt, TAKE_WAIT_MS, this.#taking.signal);
        await this.#renewal?.promise;
        continue;
      }
      this.#markReady(false);
      const taken = this.#read(answer);
      if (taken === undefined) continue;
      await this.#handle(taken);
    }
    return "stopped";
  }

  /**
   * One take of loop `index`: from its partition, long-polling on its partition's turn, else
   * without waiting (take-gate.ts; 0 to learn K). Keeps the EdgeMQ-Partitions it answers, and
   * starts a loop for each partition a larger K added. Undefined: closed.
   */
  async #take(index: number, relearn: boolean) {
    const turn = await this.#turn(index, relearn);
    if (turn === undefined) return undefined;
    let brought = false;
    try {
      const take = await this.#takeOnce(turn.partition, turn.mode === "poll" ? TAKE_WAIT_MS : 0);
      brought = take?.answer.status === 200;
      return take;
    } finally {
      this.#gate.done(turn.key, turn.mode, brought);
    }
  }

  /**
   * Waits for loop `index`'s turn to take (take-gate.ts): one take long-polls each partition, the
   * other idle loops wait here. A take to learn K waits for nothing and needs no turn. A turn on a
   * partition the loop no longer takes from (K changed meanwhile) is handed back. Undefined: closed.
   */
  async #turn(index: number, relearn: boolean) {
    for (;;) {
      if (this.#taking.signal.aborted) return undefined;
      const partition = takePartition(index, this.#partitions);
      const key = String(partition ?? "any");
      if (relearn) return { partition, key, mode: "peek" as const };
      const mode = await this.#gate.turn(key);
      // Waiting for setToken: one refused take is enough, the others wait with it.
      await this.#renewal?.promise;
      if (!this.#taking.signal.aborted && partition === takePartition(index, this.#partitions)) {
        return { partition, key, mode };
      }
      this.#gate.done(key, mode, false);
    }
  }

  /** One take from `partition` (undefined: the relay picks) waiting up to `waitMs`. */
  async #takeOnce(partition: number | undefined, waitMs: number) {
    const { link, status } = this.#setup;
    let wait = waitMs;
    const only = partition === undefined ? "" : `&partition=${partition}`;
    const retry = { signal: this.#taking.signal, giveUpAt: Number.POSITIVE_INFINITY };
    const startedAt = Date.now();
    const reaches = takeReaches(partition, this.#partitions);
    this.#presence.takeStarted(reaches, startedAt);
    let tries = 0;
    const answer = await link
      .retrying(status, retry, () => {
        // After a failed try (the relay was out of reach: a restart or a deploy, which may have
        // changed K), ask without waiting: the answer's K opens a raised K's new partitions now,
        // not after a whole long-poll of the old ones.
        if (++tries > 1) wait = 0;
        const path = `${this.#base}/take?wait=${wait}${only}${this.#leaseParam}`;
        return link.call("POST", path, { waitMs: wait }, this.#taking.signal);
      })
      .finally(() => this.#presence.takeEnded(reaches, Date.now()));
    if (answer instanceof EdgeMQError) return undefined;
    const count = readCount(answer.header(HTTP_API_HEADERS.partitions));
    this.#partitions = count ?? this.#partitions;
    this.#startLoops();
    return { answer, partition, wait, startedAt, count };
  }

  /**
   * Every PRESENCE_CHECK_MS until closed: a presence call for each partition no take polled lately
   * (its loops are busy). Failures are left to the next check; a refusal that matters (a bad
   * token, K lowered) is the take loops' to act on.
   */
  #keepPresent(): void {
    if (this.#taking.signal.aborted) return;
    const partitioned = this.#partitions > 1;
    // Waiting for setToken: a call with the expired token would only be refused.
    const lapsing = this.#renewal ? [] : this.#presence.lapsing(this.#partitions, Date.now());
    for (const p of lapsing) {
      if (this.#presenceCalls.has(p)) continue;
      this.#presenceCalls.add(p);
      const path = `${this.#base}/presence${partitioned ? `?partition=${p}` : ""}`;
      this.#setup.link
        .call("POST", path, {}, this.#taking.signal)
        .then((answer) => {
          if (answer.status < 300) this.#presence.seen(p, Date.now());
        })
        .catch(() => {})
        .finally(() => this.#presenceCalls.delete(p));
    }
    this.#presenceTimer = startTimer(() => this.#keepPresent(), PRESENCE_CHECK_MS);
  }

  /**
   * A take refused. One that named a partition and got bad_request found that partition gone (K
   * was lowered; `?partition=` past K is bad_request): take up the count the refusal gives, else
   * forget K so the next take names no partition and learns it. An expired token waits for
   * setToken (#awaitsToken). Any other refusal ends the service. Returns whether the loop goes on.
   */
  #takeRefused(
    answer: HttpAnswer,
    { partition, count }: { partition: number | undefined; count: number | undefined },
    revision: number,
  ) {
    const error = answerError(answer);
    if (this.#awaitsToken(error, revision)) return true;
    if (partition === undefined || error.code !== ERROR_CODE.badRequest) {
      this.#refused(error);
      return false;
    }
    this.#partitions = count !== undefined && count <= partition ? count : 1;
    return true;
  }

  /**
   * A take refused `unauthorized` once the service was ready, on a signed peer: its token expired
   * (or the secret changed). The loops wait for setToken (renewed()), reported once, as the peer's
   * requests are refused until then, instead of the service ending while the peer goes on. A
   * take whose token was renewed meanwhile just takes again.
   */
  #awaitsToken(error: EdgeMQError, revision: number): boolean {
    const { credentials } = this.#setup;
    if (error.code !== ERROR_CODE.unauthorized || credentials.token === undefined) return false;
    if (!this.#wasReady) return false;
    if (revision !== credentials.revision || this.#renewal !== undefined) return true;
    let resolve: () => void = () => {};
    const promise = new Promise<void>((done) => {
      resolve = done;
    });
    this.#renewal = { promise, resolve };
    const waiting = `${error.message}: serving resumes after peer.setToken()`;
    this.#setup.report({
      type: "error",
      error: new EdgeMQError(error.code, waiting),
      queue: this.queue,
    });
    return true;
  }

  /** setToken gave the peer a new token (http-peer.ts): takes refused for the old one go on. */
  renewed(): void {
    const renewal = this.#renewal;
    this.#renewal = undefined;
    renewal?.resolve();
    for (const settle of [...this.#tokenWaits]) settle(true);
  }

  /**
   * Whether setToken renews the token of `revision` before `until` (true at once if it did
   * already); false at `until`, in dev mode (no token to renew), or when the service closes.
   */
  #tokenRenewed(revision: number, until: number): Promise<boolean> {
    const { credentials } = this.#setup;
    if (credentials.revision !== revision) return Promise.resolve(true);
    if (credentials.token === undefined || this.#taking.signal.aborted) {
      return Promise.resolve(false);
    }
    return new Promise((resolve) => {
      const settle = (renewed: boolean) => {
        stopTimer(timer);
        this.#tokenWaits.delete(settle);
        resolve(renewed);
      };
      const timer = startTimer(() => settle(false), Math.max(0, until - Date.now()));
      this.#tokenWaits.add(settle);
    });
  }

  /**
   * A take was answered. `ready` waits until the relay counts this server on every partition, so
   * a failFast client of any partition finds it: a take that swept them all and found nothing
   * (`everywhere`), or else one presence call for the whole queue (a first take that brought a
   * request may have reached one partition only). A failed call leaves it to the take loops.
   */
  #markReady(everywhere: boolean): void {
    this.#wasReady = true;
    if (this.#announced) return;
    this.#announced = true;
    if (everywhere || this.#partitions <= 1) {
      this.#readyResolve();
      return;
    }
    this.#setup.link
      .call("POST", `${this.#base}/presence`, {}, this.#taking.signal)
      .catch(() => {})
      .finally(() => this.#readyResolve());
  }

  /**
   * A refusal no retry will change (bad token, no permission): the service stops. Reported once:
   * the other loops' takes, refused too, come back after it stopped.
   */
  #refused(error: EdgeMQError): void {
    if (this.#taking.signal.aborted) return;
    this.#readyReject(error);
    this.#setup.report({ type: "error", error, queue: this.queue });
    this.#taking.abort(error);
  }

  #read(answer: HttpAnswer): Taken | undefined {
    const id = answer.header(HTTP_API_HEADERS.requestId);
    const from = answer.header(HTTP_API_HEADERS.from);
    const deadline = Number(answer.header(HTTP_API_HEADERS.deadline));
    const attempt = Number(answer.header(HTTP_API_HEADERS.attempt));
    const leaseMs = Number(answer.header(HTTP_API_HEADERS.leaseMs));
    const partition = readCount(answer.header(HTTP_API_HEADERS.partition));
    if (!isRequestId(id) || !isIdentity(from) || !Number.isSafeInteger(deadline)) {
      const error = new EdgeMQError(ERROR_CODE.badRequest, "take answered without its headers");
      this.#setup.report({ type: "error", error, queue: this.queue });
      return undefined;
    }
    return {
      id,
      from,
      deadline,
      attempt: Number.isSafeInteger(attempt) && attempt > 0 ? attempt : 1,
      leaseMs: Number.isSafeInteger(leaseMs) && leaseMs > 0 ? leaseMs : this.#setup.limits.leaseMs,
      partitionQuery: partition === undefined ? "" : `?partition=${partition}`,
      partition: partition ?? 0,
      answer,
    };
  }

  /**
   * Checks, while close() drains, whether each loop left is in a handler whose request is over: its
   * answer could not be delivered any more, so a handler that ignores `req.signal` does not hold
   * close() up.
   */
  #checkDrained(): void {
    if (this.#drained === undefined) return;
    for (const signal of this.#handling) if (!signal.aborted) return;
    if (this.#loops.size <= this.#handling.size) this.#drained();
  }

  /**
   * Runs the handler on a take and answers, its signal counted in #handling meanwhile. The loop
   * waits for it only while its request holds: once its signal aborts (deadline passed, lease
   * lost, cancelled) its answer could not be delivered, so the loop takes again and a handler that
   * ignores `req.signal` runs on without its slot, as on a WebSocket server (the relay freed it).
   */
  async #handle(taken: Taken): Promise<void> {
    const controller = createAbortController();
    let over = () => {};
    const ended = new Promise<void>((resolve) => {
      over = () => {
        resolve();
        this.#checkDrained();
      };
    });
    this.#handling.add(controller.signal);
    controller.signal.addEventListener("abort", over, { once: true });
    try {
      await Promise.race([this.#runHandler(taken, controller), ended]);
    } finally {
      this.#handling.delete(controller.signal);
      controller.signal.removeEventListener("abort", over);
      this.#checkDrained();
    }
  }

  async #runHandler(
    taken: Taken,
    controller: ReturnType<typeof createAbortController>,
  ): Promise<void> {
    // Counted until its handler returns, also past the end of its request (as on WebSocket).
    this.#inHand++;
    try {
      await this.#runCounted(taken, controller);
    } finally {
      this.#inHand--;
    }
  }

  async #runCounted(
    taken: Taken,
    controller: ReturnType<typeof createAbortController>,
  ): Promise<void> {
    let leaseLost = false;
    /** Set when the handler returned: no renewal acts or re-arms after (one may be in flight). */
    let finished = false;
    const expiry = startTimer(
      () => controller.abort(new EdgeMQError(ERROR_CODE.timeout, "the request's deadline passed")),
      Math.max(0, taken.deadline - Date.now()),
    );
    // Renewed with the service's other handlers, one call per partition and round
    // (http-leases.ts); also once the lease runs to the deadline (nothing left to renew), every
    // CANCEL_CHECK_MS: the call is how a cancel reaches an HTTP server (a WebSocket server gets a
    // `cancel` frame), so its handler's signal aborts within that of it. A handler done sooner
    // makes no call.
    const every = Math.min(renewEvery(taken.leaseMs), CANCEL_CHECK_MS);
    const first = reachesDeadline(taken.leaseMs, taken.deadline) ? CANCEL_CHECK_MS : every;
    const release = this.#leases.hold({
      id: taken.id,
      partition: taken.partition,
      partitionQuery: taken.partitionQuery,
      deadline: taken.deadline,
      every,
      due: Date.now() + first,
      lost: () => {
        if (finished) return;
        leaseLost = true;
        controller.abort(new EdgeMQError(ERROR_CODE.cancelled, RELAY_ENDED_MESSAGE));
      },
    });
    // A request over (deadline passed, lease lost) needs neither: a handler that never returns
    // then leaves no timer behind to hold a closed service's process open.
    const over = () => {
      stopTimer(expiry);
      release();
    };
    controller.signal.addEventListener("abort", over, { once: true });
    const free = await this.#admitted(taken, controller.signal);
    const reply = free === undefined ? undefined : await this.#reply(taken, controller.signal);
    finished = true;
    controller.signal.removeEventListener("abort", over);
    over();
    try {
      if (!leaseLost && reply !== undefined) await this.#answerWith(taken, reply);
    } finally {
      free?.();
    }
  }

  /** Posts the handler's reply, or its failure (and a failure for a reply refused). */
  async #answerWith(taken: Taken, reply: HandlerOutcome) {
    const refusal = reply.ok
      ? await this.#answer(taken, "replies", reply.body, reply.headers)
      : await this.#answer(taken, "failures", failureBody(reply.message));
    if (refusal !== undefined) await this.#answer(taken, "failures", failureBody(refusal));
  }

  /**
   * Waits until the peer's lone gate admits a take (lone-gate.ts: a lone one waits for every other
   * handler of the peer, the others for the lone ones; its lease is renewed meanwhile, as a running
   * one's): its place's release, or undefined if its request ended first. Call the release once
   * its answer is posted; it is freed sooner if its request ends (the relay freed its slot).
   */
  async #admitted(taken: Taken, signal: ServeRequest["signal"]) {
    const { gate, limits } = this.#setup;
    gate.arrive(taken, runsAlone(taken.attempt, limits.maxAttempts), taken.deadline);
    const free = await enterGate(gate, taken, signal);
    if (free === undefined) return undefined;
    signal.addEventListener("abort", free, { once: true });
    return () => {
      signal.removeEventListener("abort", free);
      free();
    };
  }

  /**
   * Runs the handler on a take: its reply as posted (body and headers), or the failure message
   * to post instead (it threw, or its reply would be refused: checked as service.ts does).
   */
  async #reply(taken: Taken, signal: ServeRequest["signal"]): Promise<HandlerOutcome> {
    try {
      const contentType = taken.answer.header("content-type");
      const request: ServeRequest = {
        id: taken.id,
        from: taken.from,
        queue: this.queue,
        body: bodyOfHttp(contentType, taken.answer.bytes),
        contentType: contentType ?? BYTES_CONTENT_TYPE, // none reads as bytes (bodyOfHttp)
        headers: headersOfHttp(taken.answer.header(HTTP_API_HEADERS.headers)),
        deadline: taken.deadline,
        attempt: taken.attempt,
        partition: taken.partition,
        signal,
      };
      const result = await handlerReply(this.#setup.handler, request);
      const body = httpReplyOf(result);
      const headers = replyHeadersOf(result);
      const refusal =
        httpReplyRefusal(body, this.#setup.limits) ??
        replyHeadersRefusal(headers, this.#setup.limits);
      return refusal === undefined ? { ok: true, body, headers } : { ok: false, message: refusal };
    } catch (error) {
      return { ok: false, message: failureMessage(error) };
    }
  }

  /**
   * Posts a reply or failure, retrying network errors until the deadline. Returns the failure
   * message to post instead when the relay refused a reply for its content.
   */
  async #answer(
    taken: Taken,
    route: "replies" | "failures",
    { content, contentType }: Pick<HttpBody, "content" | "contentType">,
    replyHeaders?: Headers,
  ): Promise<string | undefined> {
    const { link, status, credentials } = this.#setup;
    const path = `${this.#base}/${route}/${encodeURIComponent(taken.id)}${taken.partitionQuery}`;
    const signal = createAbortController().signal;
    const headers: Record<string, string> = { "Content-Type": contentType };
    if (replyHeaders !== undefined) {
      headers[HTTP_API_HEADERS.headers] = encodeHeadersHeader(replyHeaders);
    }
    let answer: HttpAnswer | EdgeMQError;
    for (;;) {
      const revision = credentials.revision;
      answer = await link.retrying(status, { signal, giveUpAt: taken.deadline }, () =>
        link.call("POST", path, { body: content, headers }, signal),
      );
      // The token expired while the handler ran: the answer goes once setToken renews it (the
      // take loops report the expiry), while its lease may still hold, rather than being lost.
      const expired = !(answer instanceof EdgeMQError) && answer.status === 401;
      if (!expired || !(await this.#tokenRenewed(revision, taken.deadline))) break;
    }
    if (answer instanceof EdgeMQError || answer.status < 400) return undefined;
    // 409: an earlier try of this very answer landed. 404/410: the lease or deadline is gone.
    const error = answerError(answer);
    const refusal = route === "replies" ? contentRefusal(error) : undefined;
    if (refusal !== undefined) return refusal;
    if (!EXPECTED_REFUSALS.has(error.code)) {
      this.#setup.report({ type: "error", error, queue: this.queue });
    }
    return undefined;
  }
}

/**
 * Refusals of an answer that need no report: it landed already, or the request moved on, or the
 * token expired (the take loops report that, once).
 */
const EXPECTED_REFUSALS = new Set<string>([
  ERROR_CODE.conflict,
  ERROR_CODE.notFound,
  ERROR_CODE.expired,
  ERROR_CODE.unauthorized,
]);

/**
 * The failure that answers a reply the relay refused for its content, so the client is not left
 * waiting: too large, or a body its Content-Type does not fit (typed() JSON that is not JSON).
 */
function contentRefusal(error: EdgeMQError): string | undefined {
  if (error.code === ERROR_CODE.tooLarge) return "reply body over the relay's limit";
  if (error.code === ERROR_CODE.badRequest) return `reply refused by the relay: ${error.message}`;
  return undefined;
}

/** A failure message as the body its POST carries. */
function failureBody(message: string): Pick<HttpBody, "content" | "contentType"> {
  return { content: message, contentType: TEXT_CONTENT_TYPE };
}

export { CANCEL_CHECK_MS } from "./http-leases.js";
