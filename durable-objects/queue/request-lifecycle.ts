/**
 * How requests end or lose their lease, in one place: finishing with an outcome (kept in SQLite
 * until delivered), telling a lessee to stop (`cancel`), expiring past deadlines, and returning
 * lost leases to the queue (or failing them past maxAttempts). Callers run these inside a
 * transaction and flush the outbox after. Used by queue-do.ts and server-messages.ts.
 */
import { ERROR_CODE, type ErrorCode, type Limits } from "../../protocol/index.js";
import type { Outcome } from "../shared/contracts.js";
import { isHttpConn } from "../shared/http-contracts.js";
import { expiryError } from "./deadlines.js";
import { dispatchId } from "./dispatch-id.js";
import type { FrameOutbox } from "./frame-outbox.js";
import { identityOfConn, ORPHAN_CLAIM_GRACE_MS } from "./lease-claims.js";
import { afterLeaseLoss, REDELIVERY_MESSAGE } from "./lease-rules.js";
import { errorFrame } from "./outcome-frames.js";
import type { ServerRegistry } from "./server-registry.js";
import type { RequestStore, StoredRequest } from "./store-contract.js";

export class RequestLifecycle {
  /** Set when requests went back to the queue: the ready index must be rebuilt. */
  requeued = false;
  /** Queued requests ended since the ready index was built: its stale entries, at most. */
  endedWhileQueued = 0;

  constructor(
    private readonly store: RequestStore,
    private readonly servers: ServerRegistry,
    private readonly outbox: FrameOutbox,
    private readonly limits: Limits,
  ) {}

  /** Ends a request with its client's frame; a lessee other than `answeredBy` is told to stop. */
  finish(row: StoredRequest, frame: Outcome["frame"], now: number, answeredBy?: string): void {
    if (row.state === "done") return;
    if (row.state === "queued") this.endedWhileQueued++;
    if (row.state === "leased") {
      this.servers.release(row.leaseConn);
      if (row.leaseConn !== answeredBy) this.tellLesseeToStop(row);
    }
    this.store.finish(row.rid, frame, now);
  }

  fail(row: StoredRequest, code: ErrorCode, message: string, now: number, by?: string): void {
    this.finish(row, errorFrame(row.clientId, code, message), now, by);
  }

  /** Ends every live request whose deadline passed: timeout, or no_responders. */
  expireDue(now: number): void {
    for (const row of this.store.expired(now)) {
      const { code, message } = expiryError(row.sawServer);
      this.fail(row, code, message, now);
    }
  }

  /**
   * Leases that ran out without a reply or extend go back to the queue, and their lessee, silent
   * for a whole lease, gets no more dispatches until it is heard from (server-registry.ts).
   */
  reclaimEndedLeases(now: number): void {
    for (const row of this.store.leaseEnded(now)) {
      this.tellLesseeToStop(row);
      if (row.leaseConn !== null && !isHttpConn(row.leaseConn)) {
        this.servers.markStalled(row.leaseConn);
      }
      this.loseLease(row, now);
    }
  }

  /** Request `row`, if still leased to `connId`, goes back to the queue (its lessee is gone). */
  returnLease(row: StoredRequest, connId: string, now: number): void {
    if (row.state === "leased" && row.leaseConn === connId) this.loseLease(row, now);
  }

  /** A server connection is gone: its leased requests go back to the queue. */
  dropConnection(connId: string, now: number): void {
    for (const row of this.store.leasedTo(connId)) this.loseLease(row, now);
    this.servers.invalidate();
  }

  /**
   * Server connection `connId` of `identity` closed (retired from the registry first), by its
   * peer or by the relay (server-expiry.ts closeServer: an expired token, unreadable frames).
   * A newer connection of its identity, if one is open, took over: its `ready` settles the
   * leases (lease-claims.ts). Otherwise this was the identity's last connection (serverLeft).
   */
  serverClosed(connId: string, identity: string, now: number): void {
    if (this.servers.all().some((s) => s.attachment.identity === identity)) return;
    this.serverLeft(connId, identity, now);
  }

  /**
   * The relay closed server connection `connId` because its token expired (4401): a server
   * alive to its last frame, which reconnects at once when its token was renewed (the SDK does)
   * and claims what its handlers still run (lease-claims.ts). Its leases wait for that
   * ORPHAN_CLAIM_GRACE_MS at most (never longer than they had), as after a restart, so no other
   * server runs them meanwhile; then they return to the queue at their lease end
   * (reclaimEndedLeases), or at once when the server comes back without them
   * (dropGoneConnections, after its `ready`).
   */
  serverExpired(connId: string, now: number): void {
    this.shortenLeases(connId, now + ORPHAN_CLAIM_GRACE_MS);
    this.servers.invalidate();
  }

  /**
   * Server `identity`'s last connection to this queue closed (`connId`, now gone): the leases of
   * its gone connections return to the queue, as dropConnection returns them, except those of a
   * request's last allowed dispatch (`attempt` = maxAttempts). No other server may take such a
   * request, and a socket that dropped (a network cut looks like a crash) may come back with its
   * handler still running: its lease waits ORPHAN_CLAIM_GRACE_MS at most (never longer than it had)
   * for the server to reconnect and claim it (lease-claims.ts), then ends the request with
   * `server_error` at that lease end (reclaimEndedLeases). A server that comes back without it
   * ends it at once (dropGoneConnections, after its `ready`).
   */
  serverLeft(connId: string, identity: string, now: number): void {
    for (const gone of new Set([connId, ...this.store.leasedCounts().keys()])) {
      const own = gone === connId || identityOfConn(gone) === identity;
      if (!own || this.servers.get(gone) !== undefined) continue;
      for (const row of this.store.leasedTo(gone)) {
        if (row.attempt >= this.limits.maxAttempts)
          this.shortenLease(row, now + ORPHAN_CLAIM_GRACE_MS);
        else this.loseLease(row, now);
      }
    }
    this.servers.invalidate();
  }

  /**
   * Leases still held by gone connections of server `identity` return to the queue: it
   * reconnected and claimed what it still holds (lease-claims.ts), or its last connection closed.
   */
  dropGoneConnections(identity: string, now: number): void {
    for (const connId of this.store.leasedCounts().keys()) {
      if (identityOfConn(connId) !== identity || this.servers.get(connId) !== undefined) continue;
      this.dropConnection(connId, now);
    }
  }

  /**
   * After a restart, leases held by connections that no longer exist (sockets die with the
   * object) and that name no identity return to the queue. Those that name one wait for that
   * server to reconnect and claim them (lease-claims.ts), ORPHAN_CLAIM_GRACE_MS from the wake
   * (never past the request's deadline), then return to the queue: also a lease that ran out, or
   * would sooner, while the relay was down, as its server could not extend it meanwhile (a chaos
   * probe with a 5 s lease: a relay restart longer than a lease's rest ran an answered request
   * again, or ended its last attempt in `server_error`). An HTTP server's lease (no socket
   * says whether the server knows of it) gets the same grace, in which a server that holds it
   * extends it (the SDK's service renews every 2 s) or answers: a take whose answer the restart
   * cut off leaves a lease no server knows of, which waited out the whole lease (30 s; a probe: a
   * request with a shorter timeout ended in `timeout` 11 s after the relay and its server were
   * back). Not after a hibernation (`socketsSurvived`): no answer was cut, and a server of the
   * user's own that holds a request without extending it keeps its whole lease. Run once per wake.
   */
  reclaimOrphanLeases(now: number, socketsSurvived: boolean): void {
    const open = new Set(this.servers.all().map((s) => s.connId));
    for (const connId of this.store.leasedCounts().keys()) {
      if (open.has(connId)) continue;
      if (isHttpConn(connId)) {
        if (!socketsSurvived) this.shortenLeases(connId, now + ORPHAN_CLAIM_GRACE_MS);
      } else if (identityOfConn(connId) !== undefined) {
        if (socketsSurvived) this.shortenLeases(connId, now + ORPHAN_CLAIM_GRACE_MS);
        else this.graceLeases(connId, now);
      } else {
        this.dropConnection(connId, now);
      }
    }
  }

  /**
   * Leases of WebSocket connection `connId`, gone in a restart, end ORPHAN_CLAIM_GRACE_MS from
   * `now` (never past their deadline): shortened if longer, lengthened if they ran out while the
   * relay was down.
   */
  private graceLeases(connId: string, now: number): void {
    for (const row of this.store.leasedTo(connId)) {
      if (row.leaseConn === null) continue;
      const until = Math.min(now + ORPHAN_CLAIM_GRACE_MS, row.deadline);
      if (row.leaseUntil !== until) this.store.transferLease(row.rid, row.leaseConn, until);
    }
  }

  /** Leases of gone connection `connId` end by `until` at the latest (same lessee). */
  private shortenLeases(connId: string, until: number): void {
    for (const row of this.store.leasedTo(connId)) this.shortenLease(row, until);
  }

  /** Leased `row` ends by `until` at the latest (same lessee). */
  private shortenLease(row: StoredRequest, until: number): void {
    if (row.leaseConn === null || (row.leaseUntil !== null && row.leaseUntil <= until)) return;
    this.store.transferLease(row.rid, row.leaseConn, until);
  }

  private loseLease(row: StoredRequest, now: number): void {
    this.servers.release(row.leaseConn);
    if (afterLeaseLoss(row.attempt, this.limits.maxAttempts) === "fail") {
      this.store.finish(
        row.rid,
        errorFrame(row.clientId, ERROR_CODE.serverError, REDELIVERY_MESSAGE),
        now,
      );
      return;
    }
    this.store.requeue(row.rid);
    this.requeued = true;
  }

  private tellLesseeToStop(row: StoredRequest): void {
    const lessee = row.leaseConn === null ? undefined : this.servers.get(row.leaseConn);
    if (lessee) this.outbox.push(lessee.ws, { type: "cancel", id: dispatchId(row.rid) });
  }
}
