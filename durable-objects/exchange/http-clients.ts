/**
 * The ExchangeDO's side of the HTTP API for clients: `submit` records a request (http-requests.ts)
 * and enqueues it on its queue exactly as a WebSocket client's request is (QueueRpc.enqueue), a
 * POST of an id already on its way there joining it; `awaitOutcome` answers with the stored
 * outcome, or waits for `deliver` to bring it (http-waiters.ts), bounded by the caller's wait;
 * `pollOutcomes` answers, or waits for, the outcomes of all of a poller's requests (those posted
 * with its tag) after a cursor. Outcomes of HTTP requests are claimed from `deliver` before the
 * WebSocket outbox sees them. Requests take tokens from the identity's rate-limit bucket like
 * WebSocket requests do, and a new one is refused with `too_many_in_flight` while the identity is
 * at its cap (outbox-limits.ts), which its unread HTTP outcomes count toward: an answer that
 * carries an outcome reads it (http-unread.ts). Used by exchange-do.ts.
 */
import {
  EdgeMQError,
  ERROR_CODE,
  isIdentity,
  isQueueName,
  isRequestId,
  type Limits,
} from "../../protocol/index.js";
import { alarmNoLaterThan } from "../shared/alarm.js";
import type { EnqueueOutcome, Outcome, QueueRpc } from "../shared/contracts.js";
import {
  type HttpAwaitAnswer,
  type HttpAwaitInput,
  type HttpPollAnswer,
  type HttpPollInput,
  type HttpSubmitAnswer,
  type HttpSubmitInput,
  MAX_POLL_WAIT_MS,
  OUTCOME_GRACE_MS,
} from "../shared/http-contracts.js";
import { type RateDecision, rateLimitedMessage } from "../shared/token-bucket.js";
import { HttpRequests } from "./http-requests.js";
import { HttpWaiters } from "./http-waiters.js";
import { type Held, purgeAt, READ_KEEP_MS } from "./outbox-limits.js";
import { requestFromReceipt } from "./request-receipt.js";

/** Longest one awaitOutcome call waits, whatever it asks: the longest deadline and a minute. */
const MAX_AWAIT_EXTRA_MS = 60_000;

export class HttpClients {
  private readonly requests: HttpRequests;
  private readonly waiters = new HttpWaiters();
  /** Waiting polls, keyed by (identity, poller). */
  private readonly polls = new HttpWaiters();
  /**
   * Submits on their way to the queue, keyed by (identity, id): a POST of an id whose first POST
   * is still in flight joins it and gets its answer. Calling the queue itself, it could get there
   * first (the first POST still sets its alarm), and the first would then take the queue's answer
   * for a stranger's re-send and forget the record: the request ran, its outcome was lost.
   */
  readonly #submitting = new Map<string, { queue: string; answer: Promise<HttpSubmitAnswer> }>();

  constructor(
    private readonly storage: DurableObjectStorage,
    /** The queue object (the partition, queue-partitions.ts) that holds `identity`'s requests. */
    private readonly queue: (name: string, identity: string) => Pick<QueueRpc, "enqueue">,
    private readonly limits: Limits,
    /** The identity's rate-limit bucket, shared with its WebSocket requests. */
    private readonly takeToken: (identity: string) => RateDecision,
    /** Why `identity` may not send new requests now (its outbox cap), or undefined. */
    private readonly capRefusal: (identity: string) => string | undefined,
  ) {
    this.requests = new HttpRequests(storage);
  }

  async submit(input: HttpSubmitInput): Promise<HttpSubmitAnswer> {
    const { identity, queue } = input;
    const now = Date.now();
    const request = requestFromReceipt(input, this.limits.defaultTimeoutMs, now);
    const badPoller = input.poller !== undefined && !isRequestId(input.poller);
    if (!isIdentity(identity) || !isQueueName(queue) || !isRequestId(request.id) || badPoller) {
      const message = "invalid identity, queue, request id or poller";
      return refused(request.id, ERROR_CODE.badRequest, message);
    }
    const key = `${identity}\n${request.id}`;
    const running = this.#submitting.get(key);
    if (running !== undefined) {
      if (running.queue === queue) return running.answer;
      const message = `request id ${request.id} is already used for queue ${running.queue}`;
      return refused(request.id, ERROR_CODE.conflict, message);
    }
    const answer = this.#submit(input, request);
    this.#submitting.set(key, { queue, answer });
    try {
      return await answer;
    } finally {
      this.#submitting.delete(key);
    }
  }

  async #submit(
    input: HttpSubmitInput,
    request: HttpSubmitInput["request"],
  ): Promise<HttpSubmitAnswer> {
    const { identity, queue } = input;
    // A retried POST with the client's id (EdgeMQ-Request-Id) is the same request: it keeps its
    // row and outcome, takes no token, and the queue answers its stored deadline (never runs it
    // twice). A known id is enqueued again only while no outcome came, in case the first try
    // never reached the queue.
    const known = this.requests.lookup(identity, request.id, Date.now());
    const reused = this.#otherQueue(identity, request.id, queue, known.state);
    if (reused !== undefined) return reused;
    if (known.state === "done") return { id: request.id, ok: true, deadline: known.deadline };
    const fresh = known.state === "unknown";
    if (fresh) {
      const refusal = await this.#admitFresh(identity, queue, request, input.poller);
      if (refusal !== undefined) return refusal;
    }
    let outcomes: Awaited<ReturnType<QueueRpc["enqueue"]>>;
    try {
      const stub = this.queue(queue, identity);
      outcomes = await stub.enqueue({ queue, from: identity, requests: [request], viaHttp: true });
    } catch (error) {
      // The row stays (it expires with the request): the call may have stored the request before
      // it failed, and the client's retry with this id must then be the same request, not a
      // stranger's re-send (#answer), and find the outcome here.
      console.error(JSON.stringify({ evt: "http_enqueue_failed", queue, error: String(error) }));
      return refused(request.id, ERROR_CODE.internal, `queue ${queue} is unavailable; retry later`);
    }
    return this.#answer(
      identity,
      request.id,
      fresh,
      outcomes.find((o) => o.id === request.id),
    );
  }

  /** Records the queue's answer to HTTP request `id` (or forgets a fresh one it refused). */
  #answer(
    identity: string,
    id: string,
    fresh: boolean,
    outcome: EnqueueOutcome | undefined,
  ): HttpSubmitAnswer {
    if (outcome === undefined) {
      return refused(id, ERROR_CODE.internal, "the queue did not answer this request");
    }
    if (fresh && outcome.ok && outcome.resent === true) {
      // The queue holds a request of this identity with this id that this exchange does not
      // know: one whose outcome was read over READ_KEEP_MS ago (or whose HTTP record expired),
      // or one stored before queues recorded the transport (a WebSocket's they refuse
      // themselves, enqueue.ts). One id names one request: it is not run again.
      this.requests.forget(identity, id);
      const message = `request id ${id} is already used by a request of this identity whose outcome the relay no longer keeps (read over ${READ_KEEP_MS / 1000} s ago, or expired); it is not run again: post a new request with a new id`;
      return refused(id, ERROR_CODE.conflict, message);
    }
    if (outcome.ok) this.requests.accepted(identity, id, outcome.deadline);
    else if (fresh) this.requests.forget(identity, id);
    return outcome;
  }

  /** An id names one request: posting a known one to another queue would run a new request there. */
  #otherQueue(identity: string, id: string, queue: string, state: HttpAwaitAnswer["state"]) {
    const first = state === "unknown" ? undefined : this.requests.queueOf(identity, id);
    if (first === undefined || first === queue) return undefined;
    return refused(id, ERROR_CODE.conflict, `request id ${id} is already used for queue ${first}`);
  }

  /**
   * A new id takes a token and is recorded; returns the refusal when the bucket is empty or the
   * identity is at its outbox cap.
   */
  async #admitFresh(
    identity: string,
    queue: string,
    request: HttpSubmitInput["request"],
    poller: string | undefined,
  ) {
    const decision = this.takeToken(identity);
    if (!decision.ok) {
      const message = rateLimitedMessage(decision.retryAfterMs);
      return {
        ...refused(request.id, ERROR_CODE.rateLimited, message),
        retryAfterMs: decision.retryAfterMs,
      };
    }
    const capped = this.capRefusal(identity);
    if (capped !== undefined) return refused(request.id, ERROR_CODE.tooManyInFlight, capped);
    const timeout = request.timeout ?? this.limits.defaultTimeoutMs;
    const deadline = Date.now() + timeout;
    const expires = this.requests.record(identity, request.id, queue, deadline, poller);
    await alarmNoLaterThan(this.storage, purgeAt(expires));
    return undefined;
  }

  async awaitOutcome(input: HttpAwaitInput): Promise<HttpAwaitAnswer> {
    const { identity, id } = input;
    if (!isIdentity(identity) || !isRequestId(id)) return { state: "unknown" };
    const now = Date.now();
    const first = this.requests.lookup(identity, id, now);
    if (first.state !== "pending") return this.#read(identity, id, first, now);
    // No wait runs past the grace after the deadline: the caller answers 504 from then on.
    const overdueIn = first.deadline + OUTCOME_GRACE_MS - now;
    const waitMs = Math.min(input.waitMs, this.limits.maxTimeoutMs + MAX_AWAIT_EXTRA_MS, overdueIn);
    if (!(waitMs > 0)) return first;
    await this.waiters.wait(identity, id, waitMs);
    const later = Date.now();
    return this.#read(identity, id, this.requests.lookup(identity, id, later), later);
  }

  /**
   * An answer that carries the outcome (the caller sends it: 200 with a reply, or the error's
   * status) reads it: it no longer counts toward the cap, and is purged READ_KEEP_MS later.
   */
  async #read(
    identity: string,
    id: string,
    answer: HttpAwaitAnswer,
    now: number,
  ): Promise<HttpAwaitAnswer> {
    if (answer.state !== "done") return answer;
    if (this.requests.unread.markRead(identity, id, now))
      await alarmNoLaterThan(this.storage, readPurge(now));
    return answer;
  }

  /**
   * The outcomes of `identity`'s requests posted with `poller`, numbered above `after`; when none
   * is there, waits up to `waitMs` (at most MAX_POLL_WAIT_MS) for a claim to bring one. A request
   * with no outcome OUTCOME_GRACE_MS past its deadline ends in `timeout` here (endOverdue).
   */
  async pollOutcomes(input: HttpPollInput): Promise<HttpPollAnswer> {
    const { identity, poller, after } = input;
    if (!isIdentity(identity) || !isRequestId(poller) || !isCursor(after)) {
      return { frames: [], after: isCursor(after) ? after : 0 };
    }
    const now = Date.now();
    // A cursor no answer gave (a typo, a huge number) would wait in vain: the front door refuses it.
    if (this.requests.cursorAhead(after, now)) return { frames: [], after, ahead: true };
    const overdueAt = this.requests.endOverdue(identity, poller, now, OUTCOME_GRACE_MS);
    const first = this.requests.polled(identity, poller, after, now);
    const waitMs = Math.min(input.waitMs, MAX_POLL_WAIT_MS, (overdueAt ?? Infinity) - now);
    if (first.frames.length > 0 || !(waitMs > 0)) return this.#readPolled(input, first, now);
    // Read and wait with no await between: a claim that stores an outcome after the read wakes it.
    // The wait ends when a pending request becomes overdue, so the poll reports it.
    await this.polls.wait(identity, poller, waitMs);
    const later = Date.now();
    this.requests.endOverdue(identity, poller, later, OUTCOME_GRACE_MS);
    return this.#readPolled(input, this.requests.polled(identity, poller, after, later), later);
  }

  /** A poll's answer reads the outcomes it carries, as #read does one. */
  async #readPolled(
    input: HttpPollInput,
    answer: HttpPollAnswer,
    now: number,
  ): Promise<HttpPollAnswer> {
    if (answer.frames.length === 0) return answer;
    const { identity, poller, after } = input;
    const read = this.requests.unread.markPolledRead(identity, poller, after, answer.after, now);
    if (read) await alarmNoLaterThan(this.storage, readPurge(now));
    return answer;
  }

  /** `identity`'s unread outcomes: they count toward its cap (outbox-limits.ts). */
  unread(identity: string): Readonly<Held> {
    return this.requests.unread.held(identity);
  }

  /** Forgets `identity`'s rows past their expiry now, not at the next minute's purge. */
  expire(identity: string, now: number): void {
    this.requests.unread.purgeIdentity(identity, now);
  }

  /** The queue of `identity`'s request `id` while its record is kept (http-requests.ts). */
  queueOf(identity: string, id: string): string | undefined {
    return this.requests.queueOf(identity, id);
  }

  /** Keeps the outcomes of HTTP requests, wakes their waiters and polls, returns the others. */
  claim(outcomes: readonly Outcome[]): Outcome[] {
    const { claimed, rest, polled } = this.requests.claim(outcomes);
    for (const { to, frame } of claimed)
      if (frame.id !== undefined) this.waiters.wake(to, frame.id);
    for (const { identity, poller } of polled) this.polls.wake(identity, poller);
    return rest;
  }

  /** Purges expired HTTP requests; returns when the next one expires, if any. */
  purge(now: number): number | undefined {
    return this.requests.purge(now).next;
  }
}

/** When to purge an outcome first read at `now` (its row expires READ_KEEP_MS later at most). */
function readPurge(now: number): number {
  return purgeAt(now + READ_KEEP_MS);
}

/** A poll's cursor: a non-negative safe integer. */
function isCursor(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function refused(id: string, code: EdgeMQError["code"], message: string): HttpSubmitAnswer {
  return { id, ok: false, error: new EdgeMQError(code, message).toWire() };
}
