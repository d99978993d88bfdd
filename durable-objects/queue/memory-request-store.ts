/**
 * The `memory` delivery mode's request store (EDGEMQ_QUEUE_MODES, queue-modes.ts): the same
 * records and lifecycle as SqlRequestStore (request-store.ts), kept in the QueueDO's memory, so
 * the hot path writes nothing to SQLite. Fair dispatch, leases, redelivery, deadlines and resend
 * deduplication behave the same while the object lives; a relay restart (or an eviction) loses
 * them. The queue's name alone is written once to `meta`, so a woken object knows its mode.
 * Outcomes it hands out carry `memory: true`, so the exchange does not store them either.
 */

import type { Outcome } from "../shared/contracts.js";
import { DELIVERY_RETRY_MS } from "./deadlines.js";
import { bodyChars, contentChars } from "./deliver-chunks.js";
import { LiveCounts } from "./live-counts.js";
import type {
  DueOutcomes,
  DueQuery,
  NewRequest,
  RequestStore,
  StoredKey,
  StoredRequest,
  StoreTimers,
} from "./store-contract.js";
import { newRow } from "./store-contract.js";

interface MemoryRecord extends StoredRequest {
  outcome: Outcome["frame"] | undefined;
  deliverAt: number | undefined;
  viaHttp: boolean | undefined;
}

export class MemoryRequestStore implements RequestStore {
  readonly mode = "memory";
  private name: string | undefined;
  /**
   * Row ids, which are dispatch ids, start at this wake's time × RIDS_PER_MS, never at 1: a server
   * whose handler began before a restart may answer its old dispatch id on its new socket, and
   * that id must not name a request dispatched after the restart (another client's).
   */
  private nextRid = firstRid(Date.now());
  private readonly rows = new Map<number, MemoryRecord>();
  /** Row ids by client identity, then by the client's request id (no joined key to build). */
  private readonly byClient = new Map<string, Map<string, number>>();
  /** Queued or leased requests. */
  private readonly live = new Set<number>();
  /** Requests whose outcome waits for delivery. */
  private readonly undelivered = new Set<number>();
  /** Finished requests in finish order, purged from the front after their dedup window. */
  private readonly done: number[] = [];
  /** Finished requests due for purging whose outcome still waits for delivery (see purge). */
  private readonly stuck = new Set<number>();
  /** Live requests per client (every request is known here, so the counts always are). */
  private readonly liveCounts = new LiveCounts();
  private doneHead = 0;
  private outcomeWriteCount = 0;
  /** Characters of the bodies of live requests and of outcomes waiting for delivery. */
  private heldChars = 0;

  constructor(
    private readonly persistName: (name: string) => void,
    name?: string,
  ) {
    this.name = name;
    this.liveCounts.load([]);
  }

  queueName(): string | undefined {
    return this.name;
  }

  setQueueName(name: string): void {
    if (this.name !== undefined) return;
    this.name = name;
    this.persistName(name);
  }

  findStored(from: string, clientId: string): StoredKey | undefined {
    const rid = this.findRid(from, clientId);
    const row = rid === undefined ? undefined : this.rows.get(rid);
    return row === undefined ? undefined : { deadline: row.deadline, viaHttp: row.viaHttp };
  }

  findRid(from: string, clientId: string): number | undefined {
    return this.byClient.get(from)?.get(clientId);
  }

  liveDepth(): number {
    return this.live.size;
  }

  memoryChars(): number {
    return this.heldChars;
  }

  clientLive(from: string): number {
    return this.liveCounts.of(from) ?? 0;
  }

  insertAll(rs: readonly NewRequest[]): (number | undefined)[] {
    return rs.map((r) => this.insert(r));
  }

  insert(r: NewRequest): number | undefined {
    let ids = this.byClient.get(r.from);
    if (ids === undefined) {
      ids = new Map();
      this.byClient.set(r.from, ids);
    } else if (ids.has(r.clientId)) {
      return undefined;
    }
    const rid = this.nextRid++;
    const viaHttp = r.viaHttp;
    this.rows.set(rid, { ...newRow(rid, r), outcome: undefined, deliverAt: undefined, viaHttp });
    this.heldChars += bodyChars(r.body, r.headers);
    ids.set(r.clientId, rid);
    this.live.add(rid);
    this.liveCounts.added(r.from);
    return rid;
  }

  /** Memory mode runs no SQLite transaction: nothing is rolled back beside it. */
  rolledBack(): void {}

  get outcomeWrites(): number {
    return this.outcomeWriteCount;
  }

  /** Memory mode reads its timers from memory each time (queue-alarm.ts): never known here. */
  takeEarliestTime(): number {
    return Number.NEGATIVE_INFINITY;
  }

  get(rid: number): StoredRequest | undefined {
    const row = this.rows.get(rid);
    return row === undefined ? undefined : view(row);
  }

  queued(): { rid: number; from: string; attempt: number }[] {
    const rows: { rid: number; from: string; attempt: number }[] = [];
    for (const rid of this.live) {
      const row = this.rows.get(rid);
      if (row?.state === "queued") rows.push({ rid, from: row.from, attempt: row.attempt });
    }
    return rows.sort((a, b) => a.rid - b.rid);
  }

  lesseesFromAttempt(minAttempt: number): Set<string> {
    const conns = new Set<string>();
    for (const row of this.liveRows()) {
      if (row.state === "leased" && row.leaseConn !== null && row.attempt >= minAttempt) {
        conns.add(row.leaseConn);
      }
    }
    return conns;
  }

  leasedCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const row of this.liveRows()) {
      if (row.state === "leased" && row.leaseConn !== null) {
        counts.set(row.leaseConn, (counts.get(row.leaseConn) ?? 0) + 1);
      }
    }
    return counts;
  }

  lease(rid: number, connId: string, until: number): void {
    const row = this.rows.get(rid);
    if (row === undefined) return;
    row.state = "leased";
    row.leaseConn = connId;
    row.leaseUntil = until;
    row.attempt++;
  }

  leaseAll(rids: readonly number[], connId: string, cap: number): void {
    for (const rid of rids) {
      const row = this.rows.get(rid);
      if (row !== undefined) this.lease(rid, connId, Math.min(cap, row.deadline));
    }
  }

  extend(rid: number, until: number): void {
    const row = this.rows.get(rid);
    if (row !== undefined) row.leaseUntil = until;
  }

  transferLease(rid: number, connId: string, until: number): void {
    const row = this.rows.get(rid);
    if (row === undefined || row.state === "done") return;
    row.state = "leased";
    row.leaseConn = connId;
    row.leaseUntil = until;
  }

  requeue(rid: number): void {
    const row = this.rows.get(rid);
    if (row === undefined) return;
    row.state = "queued";
    row.leaseUntil = null;
  }

  finish(rid: number, frame: Outcome["frame"], now: number, delivered = false): void {
    if (!delivered) this.outcomeWriteCount++;
    this.end(rid, delivered ? undefined : { frame, deliverAt: now + DELIVERY_RETRY_MS });
  }

  finishDelivered(rids: readonly number[]): void {
    for (const rid of rids) this.end(rid, undefined);
  }

  /** Marks a request done, keeping its outcome until delivered when it has one to deliver. */
  private end(
    rid: number,
    undelivered: { frame: Outcome["frame"]; deliverAt: number } | undefined,
  ) {
    const row = this.rows.get(rid);
    if (row === undefined) return;
    row.state = "done";
    this.heldChars -= bodyChars(row.body, row.headers);
    if (row.outcome !== undefined) this.heldChars -= contentChars(row.outcome);
    if (undelivered !== undefined) this.heldChars += contentChars(undelivered.frame);
    row.body = undefined;
    row.headers = undefined;
    row.leaseUntil = null;
    row.outcome = undelivered?.frame;
    row.deliverAt = undelivered?.deliverAt;
    if (this.live.delete(rid)) this.liveCounts.ended(row.from);
    if (undelivered !== undefined) this.undelivered.add(rid);
    this.done.push(rid);
  }

  leasedTo(connId: string): StoredRequest[] {
    return this.liveRows()
      .filter((row) => row.state === "leased" && row.leaseConn === connId)
      .map(view);
  }

  expired(now: number): StoredRequest[] {
    return this.liveRows()
      .filter((row) => row.deadline <= now)
      .map(view);
  }

  leaseEnded(now: number): StoredRequest[] {
    return this.liveRows()
      .filter(
        (row) =>
          row.state === "leased" &&
          row.leaseUntil !== null &&
          row.leaseUntil <= now &&
          row.deadline > now,
      )
      .map(view);
  }

  markSawServer(): void {
    for (const row of this.liveRows()) row.sawServer = true;
  }

  /** The query's character budget does not apply: these outcomes are in memory already. */
  dueOutcomes({ now, limit, skip }: DueQuery): DueOutcomes {
    const answer: DueOutcomes = { loaded: [], skipped: [], more: false };
    let rows = 0;
    for (const rid of this.undelivered) {
      const row = this.rows.get(rid);
      if (row?.outcome === undefined || (row.deliverAt ?? 0) > now) continue;
      if (rows++ >= limit) {
        answer.more = true;
        break;
      }
      const deliverAt = row.deliverAt ?? 0;
      if (skip(rid)) {
        answer.skipped.push({ rid, deliverAt });
        continue;
      }
      const outcome: Outcome = { to: row.from, frame: row.outcome, memory: true };
      if (row.viaHttp !== undefined) outcome.viaHttp = row.viaHttp;
      answer.loaded.push({ rid, outcome, viaLink: row.viaLink, deliverAt });
    }
    return answer;
  }

  delivered(rids: readonly number[]): void {
    for (const rid of rids) {
      const row = this.rows.get(rid);
      if (row !== undefined) {
        if (row.outcome !== undefined) this.heldChars -= contentChars(row.outcome);
        row.outcome = undefined;
        row.deliverAt = undefined;
      }
      this.undelivered.delete(rid);
      if (this.stuck.delete(rid)) this.done.push(rid);
    }
  }

  linkOutcomesDue(identity: string, at: number): void {
    this.outcomeWriteCount++;
    for (const rid of this.undelivered) {
      const row = this.rows.get(rid);
      if (row?.from !== identity || !row.viaLink) continue;
      if (row.deliverAt !== undefined && row.deliverAt > at) row.deliverAt = at;
    }
  }

  retryDelivery(rids: readonly number[], at: number): void {
    this.outcomeWriteCount++;
    for (const rid of rids) {
      const row = this.rows.get(rid);
      if (row !== undefined && row.outcome !== undefined) row.deliverAt = at;
    }
  }

  /**
   * Forgets finished, delivered requests past their dedup window (oldest finished first). One
   * whose outcome still waits for delivery (a link that never acks it) steps aside (`stuck`)
   * instead of holding up every request finished after it, and rejoins once delivered.
   */
  purge(now: number, dedupWindowMs: number): void {
    while (this.doneHead < this.done.length) {
      const rid = this.done[this.doneHead];
      const row = rid === undefined ? undefined : this.rows.get(rid);
      if (row !== undefined) {
        if (row.deadline > now - dedupWindowMs) break;
        if (row.outcome !== undefined) this.stuck.add(row.rid);
        else {
          this.rows.delete(row.rid);
          this.forgetId(row.from, row.clientId);
        }
      }
      this.doneHead++;
    }
    if (this.doneHead > 1024 && this.doneHead * 2 > this.done.length) {
      this.done.splice(0, this.doneHead);
      this.doneHead = 0;
    }
  }

  timers(dedupWindowMs: number): StoreTimers {
    // One pass, no arrays: a serial client's every event runs this (queue-alarm.ts).
    let nextDeadline: number | undefined;
    let nextLeaseEnd: number | undefined;
    for (const rid of this.live) {
      const row = this.rows.get(rid);
      if (row === undefined) continue;
      if (nextDeadline === undefined || row.deadline < nextDeadline) nextDeadline = row.deadline;
      const end = row.state === "leased" ? row.leaseUntil : null;
      if (end !== null && (nextLeaseEnd === undefined || end < nextLeaseEnd)) nextLeaseEnd = end;
    }
    let nextDeliveryRetry: number | undefined;
    for (const rid of this.undelivered) {
      nextDeliveryRetry = min(nextDeliveryRetry, this.rows.get(rid)?.deliverAt);
    }
    const oldest = this.done[this.doneHead];
    const oldestDone = oldest === undefined ? undefined : this.rows.get(oldest);
    const nextPurge = oldestDone === undefined ? undefined : oldestDone.deadline + dedupWindowMs;
    return { nextDeadline, nextLeaseEnd, nextDeliveryRetry, nextPurge };
  }

  counts(): { queued: number; leased: number } {
    let queued = 0;
    let leased = 0;
    for (const row of this.liveRows()) {
      if (row.state === "queued") queued++;
      else if (row.state === "leased") leased++;
    }
    return { queued, leased };
  }

  private forgetId(from: string, clientId: string): void {
    const ids = this.byClient.get(from);
    if (ids === undefined) return;
    ids.delete(clientId);
    if (ids.size === 0) this.byClient.delete(from);
  }

  private liveRows(): MemoryRecord[] {
    const rows: MemoryRecord[] = [];
    for (const rid of this.live) {
      const row = this.rows.get(rid);
      if (row !== undefined) rows.push(row);
    }
    return rows;
  }
}

/** A copy, so callers never change the stored record except through the store. */
function view(row: MemoryRecord): StoredRequest {
  return {
    rid: row.rid,
    clientId: row.clientId,
    from: row.from,
    body: row.body,
    headers: row.headers,
    deadline: row.deadline,
    attempt: row.attempt,
    state: row.state,
    leaseConn: row.leaseConn,
    leaseUntil: row.leaseUntil,
    sawServer: row.sawServer,
    viaLink: row.viaLink,
  };
}

function min(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}

/**
 * Row ids one wake may take per millisecond it lasts before its ids could meet the next wake's;
 * far above a queue's rate. Epoch ms × 1,024 stays a safe integer until the year 2248.
 */
export const RIDS_PER_MS = 1_024;

/** The first row id of a memory store made at `now`. */
export function firstRid(now: number): number {
  return Math.max(1, Math.floor(now)) * RIDS_PER_MS;
}
