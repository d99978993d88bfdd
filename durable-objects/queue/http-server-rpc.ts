/**
 * The HTTP API's server side of a QueueDO (its RPC methods `take`, `abandonTake`, `httpReply`,
 * `httpFail`, `httpExtend`, `httpPresence`): re-validate what the front door hands over
 * (http-input.ts), note the HTTP server's presence, apply the lease rules in one transaction
 * (http-takers.ts, http-answers.ts), then settle. QueueDO delegates these methods here.
 */
import { ERROR_CODE, type WireError } from "../../protocol/index.js";
import {
  type HttpAbandonInput,
  type HttpExtendAnswer,
  type HttpExtendInput,
  type HttpExtendManyAnswer,
  type HttpExtendManyInput,
  type HttpFailInput,
  type HttpPresenceAnswer,
  type HttpPresenceInput,
  type HttpQueueRpc,
  type HttpReplyAnswer,
  type HttpReplyInput,
  type HttpTakeAnswer,
  type HttpTakeInput,
  httpConnId,
} from "../shared/http-contracts.js";
import {
  extendAsHttpServer,
  extendEachAsHttpServer,
  failAsHttpServer,
  type HttpAnswerDeps,
  httpAnswerRefusal,
  httpLeasesRefusal,
} from "./http-answers.js";
import { httpInputRefusal } from "./http-input.js";
import { LEFT, MAX_WAITING_TAKES, replyAsHttpServer } from "./http-takers.js";
import type { QueueSettler } from "./queue-settle.js";

type Refused = { ok: false; error: WireError };

export class HttpServerRpc implements HttpQueueRpc {
  constructor(private readonly rt: QueueSettler) {}

  /** Leases the next request to HTTP server `identity`, waiting up to `waitMs`. */
  async take(input: HttpTakeInput): Promise<HttpTakeAnswer> {
    const state = this.rt.state;
    state.chooseStore(input.queue);
    const refusal = httpInputRefusal(input, state.store.queueName());
    if (refusal !== undefined) return { ok: false, error: refusal };
    if (state.takers.waitingCount >= MAX_WAITING_TAKES) {
      const message = `${MAX_WAITING_TAKES} takes already wait on this queue; retry later`;
      return { ok: false, error: { code: ERROR_CODE.rateLimited, message } };
    }
    const now = Date.now();
    state.takers.seen(input.identity, now);
    const takeId = typeof input.takeId === "string" ? input.takeId : undefined;
    // Its caller hung up before this call arrived (a partition sweep's later call): take nothing.
    if (state.takers.wasAbandoned(takeId)) return { ok: true, dispatch: null };
    const frame = state.transaction(() => {
      state.store.setQueueName(input.queue);
      state.store.markSawServer();
      return state.takers.takeNow(state.dispatchDeps(now), input.identity, input.leaseMs);
    });
    if (frame !== undefined) state.takers.handedOut(takeId, frame);
    // Registered before any await, so a request enqueued meanwhile is handed to this take.
    const waiting =
      frame === undefined && input.waitMs > 0
        ? state.takers.wait(input.identity, input.waitMs, takeId, input.leaseMs)
        : undefined;
    await this.rt.settle(now);
    const got = frame ?? (waiting === undefined ? null : await waiting);
    // A take its server's leave ended does not make that server present again.
    if (got === LEFT) return { ok: true, dispatch: null };
    state.takers.seen(input.identity, Date.now());
    return { ok: true, dispatch: got };
  }

  /**
   * The HTTP caller of take `takeId` went away: the take stops waiting, or the request it was
   * just handed (still leased, unanswered) goes back to the queue for another server.
   */
  async abandonTake(input: HttpAbandonInput): Promise<void> {
    const state = this.rt.state;
    state.chooseStore(input.queue);
    if (httpInputRefusal(input, state.store.queueName()) !== undefined) return;
    if (typeof input.takeId !== "string") return;
    const rid = state.takers.abandon(input.takeId);
    if (rid === undefined) return;
    const now = Date.now();
    state.transaction(() => {
      const row = state.store.get(rid);
      if (row !== undefined) state.lifecycle.returnLease(row, httpConnId(input.identity), now);
    });
    await this.rt.settle(now);
  }

  /** HTTP server `identity` replies to relay id `id` (lessee, once, before the deadline). */
  httpReply(input: HttpReplyInput): Promise<HttpReplyAnswer> {
    const limits = this.rt.state.settings.limits;
    return this.answer(
      input,
      (known) => httpInputRefusal(input, known, limits),
      (deps) => replyAsHttpServer(deps, input.identity, input.id, input.body, input.headers),
    );
  }

  /** HTTP server `identity` fails relay id `id` (same rules as a reply). */
  httpFail(input: HttpFailInput): Promise<HttpReplyAnswer> {
    return this.answer(
      input,
      (known) => httpAnswerRefusal(input, known),
      (deps) => failAsHttpServer(deps, input.identity, input.id, input.message),
    );
  }

  /** HTTP server `identity` extends its lease on relay id `id`. */
  httpExtend(input: HttpExtendInput): Promise<HttpExtendAnswer> {
    return this.answer(
      input,
      (known) => httpAnswerRefusal(input, known),
      (deps) => extendAsHttpServer(deps, input.identity, input.id, input.leaseMs),
    );
  }

  /**
   * HTTP server `identity` extends its leases on several relay ids at once (one transaction):
   * each id answered as `httpExtend` would, in order. An id that is not a request id is
   * `not_found`, as on the one-id route.
   */
  httpExtendMany(input: HttpExtendManyInput): Promise<HttpExtendManyAnswer> {
    return this.answer(
      input,
      (known) => httpLeasesRefusal(input, known),
      (deps) => ({
        ok: true as const,
        leases: extendEachAsHttpServer(deps, input.identity, input.ids, input.leaseMs),
      }),
    );
  }

  /** HTTP server `identity` still serves this queue (busy): present as after a take. */
  async httpPresence(input: HttpPresenceInput): Promise<HttpPresenceAnswer> {
    const state = this.rt.state;
    state.chooseStore(input.queue);
    const refusal = httpInputRefusal(input, state.store.queueName());
    if (refusal !== undefined) return { ok: false, error: refusal };
    const now = Date.now();
    state.takers.seen(input.identity, now);
    state.transaction(() => {
      state.store.setQueueName(input.queue);
      state.store.markSawServer();
    });
    await this.rt.settle(now);
    return { ok: true };
  }

  /** HTTP server `identity` stopped serving this queue: its waiting takes end (HttpTakers.leave). */
  async httpLeave(input: HttpPresenceInput): Promise<HttpPresenceAnswer> {
    const state = this.rt.state;
    state.chooseStore(input.queue);
    const refusal = httpInputRefusal(input, state.store.queueName());
    if (refusal !== undefined) return { ok: false, error: refusal };
    state.takers.leave(input.identity);
    await this.rt.settle(Date.now());
    return { ok: true };
  }

  /** The steps shared by reply, fail and extend: check, note presence, act in one transaction. */
  private async answer<A>(
    input: { identity: string },
    refuse: (knownQueue: string | undefined) => WireError | undefined,
    act: (deps: HttpAnswerDeps) => A,
  ): Promise<A | Refused> {
    const state = this.rt.state;
    state.chooseStore();
    const refusal = refuse(state.store.queueName());
    if (refusal !== undefined) return { ok: false, error: refusal };
    const now = Date.now();
    state.takers.seen(input.identity, now);
    const { store, lifecycle, settings } = state;
    const deps = { store, lifecycle, limits: settings.limits, now };
    const answer = state.transaction(() => act(deps));
    await this.rt.settle(now);
    return answer;
  }
}
