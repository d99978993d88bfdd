/**
 * HTTP servers of a queue (the HTTP API's `take` and `replies`). An HTTP server holds its leases
 * as the virtual connection `http:<identity>`, under the same rules as a socket: a lease lasts
 * leaseMs, or the shorter lease its take asked for (`?lease=`), never past the deadline, and a reply counts only from the lessee, once, before the
 * deadline. A take that finds nothing queued waits in memory; waiting takes are served first,
 * longest waiting first, each like a server with capacity 1 (so a waiting HTTP server is never
 * passed over for a WebSocket server). An HTTP server counts as connected while a take waits and
 * for HTTP_SERVER_PRESENCE_MS after its last take or reply. Leases are made inside the caller's
 * transaction; waiters are resolved only after it commits. A take whose HTTP caller went away
 * (abandonTake) stops waiting, and a request just handed to it goes back to the queue, instead of
 * sitting leased to nobody for a whole lease. A request that runs alone (lease-rules.ts
 * runsAlone) goes only to an HTTP server holding no lease, which then takes nothing else until it
 * ends; when the queue has no socket server to keep free for it, an HTTP server that holds leases
 * takes nothing new until it holds none, and then takes it. Used by http-server-rpc.ts and
 * queue-settle.ts.
 */
import {
  type DispatchFrame,
  ERROR_CODE,
  type Headers,
  type Limits,
  type WireBody,
  type WireError,
} from "../../protocol/index.js";
import { grantedLeaseMs, type HttpReplyAnswer, httpConnId } from "../shared/http-contracts.js";
import { leaseUntil } from "./deadlines.js";
import { ridOf } from "./dispatch-id.js";
import {
  type DispatchableRow,
  type DispatchDeps,
  type DispatchServers,
  dispatchable,
  dispatchFrame,
  nextDispatchable,
} from "./dispatcher.js";
import { HttpServerPresence } from "./http-server-presence.js";
import { checkAnswer, type Refusal, runsAlone, UNKNOWN_ID_MESSAGE } from "./lease-rules.js";
import { replyFrame } from "./outcome-frames.js";
import type { Entry } from "./ready-index.js";
import type { RequestLifecycle } from "./request-lifecycle.js";
import { serverToKeepFree } from "./server-choice.js";
import type { RequestStore } from "./store-contract.js";

/** Most takes that may wait at once on one queue; more are refused with `rate_limited`. */
export const MAX_WAITING_TAKES = 1_000;

/** Most recent handouts remembered by take id, for a caller that goes away just as it gets one. */
export const MAX_REMEMBERED_HANDOUTS = 1_000;

export type TakeDeps = Pick<DispatchDeps, "store" | "ready" | "lifecycle" | "queue" | "now"> & {
  limits: Limits;
  servers: Pick<DispatchServers, "all">;
};

/** A waiting take ended because its server left (HttpTakers.leave), not for want of work. */
export const LEFT = "left";

interface Waiter {
  identity: string;
  takeId: string | undefined;
  /** The lease its take asked for (`?lease=`), granted in takeNow; undefined: leaseMs. */
  leaseMs: number | undefined;
  resolve: (frame: DispatchFrame | null | typeof LEFT) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** A request leased to a waiting take, to be handed over once the transaction commits. */
export interface Handout {
  waiter: Waiter;
  frame: DispatchFrame;
}

export class HttpTakers {
  private readonly waiting: Waiter[] = [];
  private readonly presence = new HttpServerPresence();
  /** The request each recent take got, by take id (oldest first). */
  private readonly handouts = new Map<string, number>();
  /** Takes abandoned before they got here (a partition sweep's later calls), oldest first. */
  private readonly abandoned = new Set<string>();
  /**
   * HTTP servers holding a request that runs alone, with its relay id (memory only; at most
   * MAX_REMEMBERED_HANDOUTS, oldest forgotten first).
   */
  private readonly aloneHolders = new Map<string, number>();
  /** HTTP servers draining for a request that runs alone: they take nothing new meanwhile. */
  private readonly draining = new Set<string>();

  /** Records that HTTP server `identity` took or replied at `now`. */
  seen(identity: string, now: number): void {
    this.presence.seen(identity, now);
  }

  /** Whether an HTTP server counts as connected: a take waits, or one was seen lately. */
  present(now: number): boolean {
    return this.waiting.length > 0 || this.presence.any(now);
  }

  get waitingCount(): number {
    return this.waiting.length;
  }

  /**
   * Leases the next queued request to `identity`'s HTTP connection, for the lease it asked for
   * (grantedLeaseMs; leaseMs when it did not ask). Inside a transaction.
   */
  takeNow(deps: TakeDeps, identity: string, asked?: number): DispatchFrame | undefined {
    const row = this.nextFor(deps, identity);
    if (row === undefined) return undefined;
    const until = leaseUntil(deps.now, row.deadline, grantedLeaseMs(asked, deps.limits.leaseMs));
    deps.store.lease(row.rid, httpConnId(identity), until);
    if (runsAlone(row.attempt, deps.limits.maxAttempts)) {
      makeRoom(this.aloneHolders);
      this.aloneHolders.set(identity, row.rid);
      this.draining.delete(identity);
    }
    return dispatchFrame(row, row.body, deps.queue);
  }

  /** The request HTTP server `identity` may take now, if any: one that runs alone first. */
  private nextFor(deps: TakeDeps, identity: string): DispatchableRow | undefined {
    if (this.holdsAlone(deps.store, identity)) return undefined;
    const idle = holdsNothing(deps.store, identity);
    const alone = idle() ? takeAloneRow(deps) : undefined;
    if (alone !== undefined) return alone;
    if (deps.ready.aloneCount === 0) this.draining.clear();
    else if (serverToKeepFree(deps.servers.all(), new Set()) === undefined) {
      this.draining.add(identity);
    }
    if (this.draining.has(identity)) return undefined;
    const setApart: Entry[] = [];
    try {
      for (;;) {
        const row = nextDispatchable(deps);
        if (row === undefined) return undefined;
        if (!runsAlone(row.attempt, deps.limits.maxAttempts) || idle()) return row;
        setApart.push({ from: row.from, rid: row.rid });
      }
    } finally {
      deps.ready.putBackAlone(setApart);
    }
  }

  /** Whether HTTP server `identity` still holds the request that runs alone it took. */
  private holdsAlone(store: RequestStore, identity: string): boolean {
    const rid = this.aloneHolders.get(identity);
    if (rid === undefined) return false;
    const row = store.get(rid);
    if (row?.state === "leased" && row.leaseConn === httpConnId(identity)) return true;
    this.aloneHolders.delete(identity);
    return false;
  }

  /**
   * Waits up to `ms` for a request; resolves null when none came, LEFT when its server left.
   * Registered synchronously.
   */
  wait(
    identity: string,
    ms: number,
    takeId?: string,
    leaseMs?: number,
  ): Promise<DispatchFrame | null | typeof LEFT> {
    return new Promise((resolve) => {
      const waiter: Waiter = {
        identity,
        takeId,
        leaseMs,
        resolve,
        timer: setTimeout(() => {
          this.remove(waiter);
          resolve(null);
        }, ms),
      };
      this.waiting.push(waiter);
    });
  }

  /** Leases queued requests to waiting takes, longest waiting first. Inside a transaction. */
  handOut(deps: TakeDeps): Handout[] {
    const handouts: Handout[] = [];
    for (const waiter of this.waiting) {
      const frame = this.takeNow(deps, waiter.identity, waiter.leaseMs);
      if (frame !== undefined) handouts.push({ waiter, frame });
      else if (deps.ready.size === 0) break;
      // Else this server may take nothing now (it holds or drains for a request that runs alone).
    }
    return handouts;
  }

  /** After the transaction that made the leases committed: each waiting take gets its request. */
  resolve(handouts: readonly Handout[]): void {
    for (const { waiter, frame } of handouts) {
      clearTimeout(waiter.timer);
      this.remove(waiter);
      this.handedOut(waiter.takeId, frame);
      waiter.resolve(frame);
    }
  }

  /** Remembers that take `takeId` got `frame` (until MAX_REMEMBERED_HANDOUTS newer ones). */
  handedOut(takeId: string | undefined, frame: DispatchFrame): void {
    const rid = ridOf(frame.id);
    if (takeId === undefined || rid === undefined) return;
    makeRoom(this.handouts);
    this.handouts.set(takeId, rid);
  }

  /**
   * Take `takeId`'s caller went away: a waiting take stops waiting (answered null, to nobody);
   * returns the request it was handed, if it got one, for the caller to put back in the queue.
   */
  abandon(takeId: string): number | undefined {
    const waiter = this.waiting.find((w) => w.takeId === takeId);
    if (waiter !== undefined) {
      clearTimeout(waiter.timer);
      this.remove(waiter);
      waiter.resolve(null);
      return undefined;
    }
    const rid = this.handouts.get(takeId);
    this.handouts.delete(takeId);
    if (rid === undefined) {
      makeRoom(this.abandoned);
      this.abandoned.add(takeId);
    }
    return rid;
  }

  /**
   * HTTP server `identity` stopped serving (its SDK service closed): its waiting takes stop
   * waiting (answered null, to callers that are gone), so no request is handed to a take nobody
   * reads, and it no longer counts as connected. Returns how many takes it ended.
   */
  leave(identity: string): number {
    const leaving = this.waiting.filter((w) => w.identity === identity);
    for (const waiter of leaving) {
      clearTimeout(waiter.timer);
      this.remove(waiter);
      waiter.resolve(LEFT);
    }
    this.presence.forget(identity);
    return leaving.length;
  }

  /** Whether take `takeId` was abandoned before it arrived: it then takes nothing. */
  wasAbandoned(takeId: string | undefined): boolean {
    return takeId !== undefined && this.abandoned.delete(takeId);
  }

  private remove(waiter: Waiter): void {
    const at = this.waiting.indexOf(waiter);
    if (at >= 0) this.waiting.splice(at, 1);
  }
}

/**
 * An HTTP server's reply to relay id `id`: accepted from the lessee, once, before the deadline.
 * Refusals map to the HTTP API's statuses: not leased to this server → not_found (404), already
 * answered → conflict (409), deadline passed → expired (410). Inside a transaction.
 */
export function replyAsHttpServer(
  deps: { store: RequestStore; lifecycle: RequestLifecycle; now: number },
  identity: string,
  id: string,
  body: WireBody,
  headers?: Headers,
): HttpReplyAnswer {
  const rid = ridOf(id);
  const row = rid === undefined ? undefined : deps.store.get(rid);
  const connId = httpConnId(identity);
  const check = checkAnswer(row, connId, deps.now);
  if (!check.ok) return { ok: false, error: httpRefusal(check.error) };
  if (row === undefined) return { ok: false, error: httpRefusal(notDispatched()) };
  deps.lifecycle.finish(row, replyFrame(row.clientId, body, headers), deps.now, connId);
  return { ok: true };
}

/** A lease refusal as the HTTP API reports it. */
export function httpRefusal(refusal: Refusal): WireError {
  if (refusal.code === ERROR_CODE.forbidden) {
    const why = refusal.message === UNKNOWN_ID_MESSAGE ? UNKNOWN_ID_HINT : refusal.message;
    return { code: ERROR_CODE.notFound, message: `not dispatched to this server (${why})` };
  }
  return { code: refusal.code, message: refusal.message };
}

/** An id the queue does not know: most likely the client's, where the take's relay id belongs. */
const UNKNOWN_ID_HINT = `${UNKNOWN_ID_MESSAGE}: answer with the relay id the take gave in EdgeMQ-Request-Id, not the client's own id`;

function notDispatched(): Refusal {
  return { code: ERROR_CODE.forbidden, message: UNKNOWN_ID_MESSAGE };
}

/** Whether HTTP server `identity` holds no lease, asked once and only when needed. */
function holdsNothing(store: RequestStore, identity: string): () => boolean {
  let idle: boolean | undefined;
  return () => {
    idle ??= store.leasedTo(httpConnId(identity)).length === 0;
    return idle;
  };
}

/** The oldest request that runs alone, taken from the index; the rest stay there. */
function takeAloneRow(deps: TakeDeps): DispatchableRow | undefined {
  const entries = deps.ready.takeAlone();
  let at = 0;
  let picked: DispatchableRow | undefined;
  while (picked === undefined && at < entries.length) {
    const entry = entries[at++];
    const row = entry === undefined ? undefined : dispatchable(deps, entry);
    if (row === undefined) continue;
    if (runsAlone(row.attempt, deps.limits.maxAttempts)) picked = row;
    else deps.ready.add(row.from, row.rid); // maxAttempts was raised since it was set apart
  }
  deps.ready.putBackAlone(entries.slice(at));
  return picked;
}

/** Forgets the oldest take id in `ids` when it holds MAX_REMEMBERED_HANDOUTS already. */
function makeRoom(ids: Map<string, unknown> | Set<string>): void {
  if (ids.size < MAX_REMEMBERED_HANDOUTS) return;
  const oldest = ids.keys().next().value;
  if (oldest !== undefined) ids.delete(oldest);
}
