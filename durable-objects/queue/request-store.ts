/**
 * Typed access to the QueueDO's `requests` and `meta` tables (schema.ts). Every read narrows
 * the row; stored bodies, headers and outcome frames are re-validated with the protocol's codec.
 * The hot path reads nothing back: live rows it wrote are cached (live-row-cache.ts), the rows
 * of one call are inserted, leased or finished in one statement, and it tells the outcome
 * delivery and the alarm what it wrote (`outcomeWrites`, `takeEarliestTime`).
 * Synchronous (SQLite in a Durable Object); used by queue-do.ts, dispatcher.ts and outcome-delivery.ts.
 */

import type { Outcome } from "../shared/contracts.js";
import { DELIVERY_RETRY_MS } from "./deadlines.js";
import { HeldWrites } from "./held-writes.js";
import { LiveCounts } from "./live-counts.js";
import { LiveRowCache } from "./live-row-cache.js";
import { num, optNum, str } from "./sql-values.js";
import {
  type DueOutcome,
  type DueOutcomes,
  type DueQuery,
  type NewRequest,
  newRow,
  type RequestStore,
  type StoredKey,
  type StoreTimers,
} from "./store-contract.js";
import { readOutcomeFrame, type StoredRequest, toStored } from "./stored-request.js";

const LIVE = "state IN ('queued', 'leased')";

/** The columns a new row sets (the state is 'queued'), in the order of newRowParams. */
const NEW_ROW_COLUMNS =
  "client_id, from_identity, body, headers, deadline, created, state, saw_server, via_link, via_http";

function newRowParams(r: NewRequest, body: string, headers: string | null): SqlStorageValue[] {
  return [
    r.clientId,
    r.from,
    body,
    headers,
    r.deadline,
    r.now,
    r.sawServer ? 1 : 0,
    r.viaLink ? 1 : 0,
    r.viaHttp === undefined ? null : r.viaHttp ? 1 : 0,
  ];
}

/**
 * Most identities whose largest request id `maxIds` keeps; past it the map is forgotten at the
 * next release of held writes (a miss costs one indexed query), so a partition that sees many
 * identities over its life does not keep one entry for each.
 */
export const MAX_ID_BOUNDS = 10_000;

export class SqlRequestStore implements RequestStore {
  readonly mode = "durable";
  /** The queue's name once read or written: it never changes. */
  private name: string | undefined;
  private readonly cache = new LiveRowCache();
  /** Live requests in all and per client, for admission without a COUNT query. */
  private readonly liveCounts = new LiveCounts();
  private outcomeWriteCount = 0;
  /** The earliest timer moment written since the last takeEarliestTime, and done deadlines. */
  private earliest = Number.POSITIVE_INFINITY;
  private earliestDone = Number.POSITIVE_INFINITY;

  /** Writes run now, or held until the next event (held-writes.ts). */
  private readonly writes: HeldWrites;
  /**
   * Held inserts' row ids and deadlines by client ids: SQLite has not got them yet (findRid,
   * findStored). The deadline is kept here because a held row that ends leaves the cache.
   */
  private readonly heldKeys = new Map<string, { rid: number } & StoredKey>();
  /** The next row id (AUTOINCREMENT's): read once, for inserts made while writes are held. */
  private nextRid: number | undefined;
  /**
   * Per client identity, an id at least as large as every id of it stored or held (read once
   * per identity and wake): a held insert whose id is larger is new without a query. The SDK's
   * ids increase within a peer, so its requests pass (client/request-ids.ts); others are looked up.
   */
  private readonly maxIds = new Map<string, string>();

  constructor(private readonly sql: SqlStorage) {
    this.writes = new HeldWrites(sql);
  }

  /** Whether write statements are being held (held-writes.ts). */
  get holding(): boolean {
    return this.writes.holding;
  }

  /**
   * Holds writes from now until `releaseHeld` (or keeps holding them), if `rows` more new
   * requests with `bodyChars` of stored body can be held: their rows must stay readable from the
   * cache meanwhile. False if not (then nothing changes).
   */
  holdWrites(rows: number, bodyChars: number): boolean {
    if (!this.cache.fits(rows, bodyChars)) return false;
    this.writes.hold();
    return true;
  }

  /**
   * Runs the held writes (inside the caller's transaction) and stops holding. With nothing held,
   * SQLite alone is the truth, so this is where `maxIds` may be forgotten when it grew large.
   */
  releaseHeld(): void {
    this.heldKeys.clear();
    this.writes.release();
    if (this.maxIds.size > MAX_ID_BOUNDS) this.maxIds.clear();
  }

  get outcomeWrites(): number {
    return this.outcomeWriteCount;
  }

  takeEarliestTime(dedupWindowMs: number): number {
    const t = Math.min(this.earliest, this.earliestDone + dedupWindowMs);
    this.earliest = Number.POSITIVE_INFINITY;
    this.earliestDone = Number.POSITIVE_INFINITY;
    return t;
  }

  private noteTime(t: number): void {
    if (t < this.earliest) this.earliest = t;
  }

  /**
   * A live request ends: its purge comes at its deadline plus the dedup window, and its client's
   * live count goes down (or the counts become unknown, if the row is not cached).
   */
  private noteFinished(rid: number): void {
    const row = this.cache.peek(rid);
    const deadline = row?.deadline ?? Number.NEGATIVE_INFINITY;
    if (deadline < this.earliestDone) this.earliestDone = deadline;
    this.liveCounts.ended(row?.from);
  }

  queueName(): string | undefined {
    if (this.name !== undefined) return this.name;
    const row = this.sql.exec("SELECT value FROM meta WHERE key = 'queue'").toArray()[0];
    this.name = row === undefined ? undefined : str(row.value, "meta.value");
    return this.name;
  }

  setQueueName(name: string): void {
    if (this.name !== undefined) return;
    this.writes.run("INSERT OR IGNORE INTO meta (key, value) VALUES ('queue', ?)", name);
    this.name = undefined;
    this.queueName();
  }

  rolledBack(): void {
    this.writes.discard();
    this.heldKeys.clear();
    this.nextRid = undefined;
    this.maxIds.clear();
    this.cache.clear();
    this.liveCounts.forget();
    this.name = undefined;
    this.outcomeWriteCount++;
    this.earliest = Number.NEGATIVE_INFINITY;
  }

  findStored(from: string, clientId: string): StoredKey | undefined {
    const held = this.heldKeys.get(heldKey(from, clientId));
    if (held !== undefined) return { deadline: held.deadline, viaHttp: held.viaHttp };
    const row = this.sql
      .exec(
        "SELECT deadline, via_http FROM requests WHERE from_identity = ? AND client_id = ?",
        from,
        clientId,
      )
      .toArray()[0];
    if (row === undefined) return undefined;
    const viaHttp = row.via_http === null ? undefined : row.via_http === 1;
    return { deadline: num(row.deadline, "deadline"), viaHttp };
  }

  findRid(from: string, clientId: string): number | undefined {
    const held = this.heldKeys.get(heldKey(from, clientId));
    if (held !== undefined) return held.rid;
    const row = this.sql
      .exec("SELECT rid FROM requests WHERE from_identity = ? AND client_id = ?", from, clientId)
      .toArray()[0];
    return row === undefined ? undefined : num(row.rid, "rid");
  }

  /** Bodies and outcomes are in SQLite (the live-row cache is bounded on its own). */
  memoryChars(): undefined {
    return undefined;
  }

  liveDepth(): number {
    this.loadCounts();
    return this.liveCounts.depth() ?? 0;
  }

  clientLive(from: string): number {
    this.loadCounts();
    return this.liveCounts.of(from) ?? 0;
  }

  /** Counts live requests per client once, when the in-memory counts are not known. */
  private loadCounts(): void {
    if (this.liveCounts.known) return;
    // Through the state index: live rows only. The planner would otherwise pick the
    // (from_identity, client_id) index and count through every done row the dedup window keeps.
    const q = `SELECT from_identity AS f, COUNT(*) AS n FROM requests
               INDEXED BY requests_state_deadline WHERE ${LIVE} GROUP BY from_identity`;
    this.liveCounts.load(
      this.sql
        .exec(q)
        .toArray()
        .map((row) => ({ from: str(row.f, "f"), n: num(row.n, "n") })),
    );
  }

  insert(r: NewRequest): number | undefined {
    const headers = r.headers === undefined ? null : JSON.stringify(r.headers);
    const body = JSON.stringify(r.body);
    if (this.writes.holding) return this.insertHeld(r, body, headers);
    const row = this.sql
      .exec(
        `INSERT INTO requests (${NEW_ROW_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?)
         ON CONFLICT (from_identity, client_id) DO NOTHING RETURNING rid`,
        ...newRowParams(r, body, headers),
      )
      .toArray()[0];
    if (row === undefined) return undefined;
    const rid = num(row.rid, "rid");
    this.sawRid(rid);
    this.added(rid, r, body.length + (headers?.length ?? 0));
    return rid;
  }

  insertAll(rs: readonly NewRequest[]): (number | undefined)[] {
    if (rs.length <= 1 || this.writes.holding) return rs.map((r) => this.insert(r));
    const texts = rs.map((r) => ({
      body: JSON.stringify(r.body),
      headers: r.headers === undefined ? null : JSON.stringify(r.headers),
    }));
    const rows = rs.map((r, i) =>
      newRowParams(r, texts[i]?.body ?? "null", texts[i]?.headers ?? null),
    );
    // `WHERE true` lets SQLite read ON CONFLICT as the upsert clause, not part of the SELECT.
    const inserted = this.sql.exec(
      `INSERT INTO requests (${NEW_ROW_COLUMNS})
       SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5,
         'queued', value ->> 6, value ->> 7, value ->> 8 FROM json_each(?) WHERE true
       ON CONFLICT (from_identity, client_id) DO NOTHING RETURNING rid, client_id, from_identity`,
      JSON.stringify(rows),
    );
    const byKey = new Map<string, number>();
    for (const row of inserted) {
      const key = `${str(row.from_identity, "from_identity")}\n${str(row.client_id, "client_id")}`;
      byKey.set(key, num(row.rid, "rid"));
    }
    return rs.map((r, i) => {
      const key = `${r.from}\n${r.clientId}`;
      const rid = byKey.get(key);
      if (rid === undefined) return undefined;
      byKey.delete(key); // a repeat of these ids later in the batch is a resend
      this.sawRid(rid);
      this.added(rid, r, (texts[i]?.body.length ?? 0) + (texts[i]?.headers?.length ?? 0));
      return rid;
    });
  }

  /**
   * `insert` while writes are held: an id above every id its client stored is new; any other is
   * looked up (in the held inserts, then SQLite, which holds everything but them) and is a
   * resend if found. The row id is taken from the sequence, and the row goes into the cache,
   * which serves it until the insert runs.
   */
  private insertHeld(r: NewRequest, body: string, headers: string | null): number | undefined {
    const fresh = this.aboveStoredIds(r.from, r.clientId);
    if (!fresh && this.findRid(r.from, r.clientId) !== undefined) return undefined;
    this.nextRid ??= this.readNextRid();
    const rid = this.nextRid++;
    this.writes.run(
      `INSERT INTO requests (rid, ${NEW_ROW_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?)`,
      rid,
      ...newRowParams(r, body, headers),
    );
    const key = { rid, deadline: r.deadline, viaHttp: r.viaHttp };
    this.heldKeys.set(heldKey(r.from, r.clientId), key);
    this.added(rid, r, body.length + (headers?.length ?? 0));
    return rid;
  }

  /** AUTOINCREMENT's next row id: past every id ever used (sqlite_sequence), or past the largest. */
  private readNextRid(): number {
    const q = `SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'requests'), 0),
                 COALESCE((SELECT MAX(rid) FROM requests), 0)) AS n`;
    return num(this.sql.exec(q).one().n, "n") + 1;
  }

  /** A new request was stored (or held) as row `rid`, its body and headers taking `chars`. */
  private added(rid: number, r: NewRequest, chars: number): void {
    this.sawId(r.from, r.clientId);
    this.cache.add(newRow(rid, r), chars);
    this.liveCounts.added(r.from);
    this.noteTime(r.deadline);
  }

  /** Whether `clientId` sorts after every id `from` has stored or held (so it is new). */
  private aboveStoredIds(from: string, clientId: string): boolean {
    let max = this.maxIds.get(from);
    if (max === undefined) {
      // Through the unique (from_identity, client_id) index. Request ids are ASCII, so SQLite's
      // binary order is JavaScript's string order.
      const q = "SELECT MAX(client_id) AS m FROM requests WHERE from_identity = ?";
      const found = this.sql.exec(q, from).one().m;
      max = typeof found === "string" ? found : "";
      this.maxIds.set(from, max);
    }
    return clientId > max;
  }

  /** `from` stored or held `clientId`: keeps its known largest id an upper bound. */
  private sawId(from: string, clientId: string): void {
    const max = this.maxIds.get(from);
    if (max !== undefined && clientId > max) this.maxIds.set(from, clientId);
  }

  /** An insert that ran now took `rid`: held inserts continue after it. */
  private sawRid(rid: number): void {
    if (this.nextRid !== undefined && rid >= this.nextRid) this.nextRid = rid + 1;
  }

  get(rid: number): StoredRequest | undefined {
    const cached = this.cache.get(rid);
    if (cached !== undefined) return cached;
    const row = this.sql.exec("SELECT * FROM requests WHERE rid = ?", rid).toArray()[0];
    return row === undefined ? undefined : toStored(row);
  }

  /** Queued requests, for rebuilding the ready index. */
  queued(): { rid: number; from: string; attempt: number }[] {
    return this.sql
      .exec("SELECT rid, from_identity, attempt FROM requests WHERE state = 'queued' ORDER BY rid")
      .toArray()
      .map((row) => ({
        rid: num(row.rid, "rid"),
        from: str(row.from_identity, "from_identity"),
        attempt: num(row.attempt, "attempt"),
      }));
  }

  lesseesFromAttempt(minAttempt: number): Set<string> {
    const q = "SELECT DISTINCT lease_conn FROM requests WHERE state = 'leased' AND attempt >= ?";
    const conns = new Set<string>();
    for (const row of this.sql.exec(q, minAttempt)) conns.add(str(row.lease_conn, "lease_conn"));
    return conns;
  }

  /** Number of leased requests per connection. */
  leasedCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    const q = "SELECT lease_conn, COUNT(*) AS n FROM requests WHERE state = 'leased' GROUP BY 1";
    for (const row of this.sql.exec(q))
      counts.set(str(row.lease_conn, "lease_conn"), num(row.n, "n"));
    return counts;
  }

  /** Leases a queued request; returns its new attempt number. */
  lease(rid: number, connId: string, until: number): void {
    this.writes.run(
      `UPDATE requests SET state = 'leased', lease_conn = ?, lease_until = ?, attempt = attempt + 1
       WHERE rid = ?`,
      connId,
      until,
      rid,
    );
    this.cache.update(rid, (row) => {
      row.state = "leased";
      row.leaseConn = connId;
      row.leaseUntil = until;
      row.attempt += 1;
    });
    this.noteTime(until);
  }

  leaseAll(rids: readonly number[], connId: string, cap: number): void {
    if (rids.length === 0) return;
    if (rids.length === 1 && rids[0] !== undefined) {
      const rid = rids[0];
      const until = this.cache.peek(rid)?.deadline;
      if (until !== undefined) {
        this.lease(rid, connId, Math.min(cap, until));
        return;
      }
    }
    this.writes.run(
      `UPDATE requests SET state = 'leased', lease_conn = ?, lease_until = MIN(?, deadline),
         attempt = attempt + 1 WHERE rid IN (SELECT value FROM json_each(?))`,
      connId,
      cap,
      JSON.stringify(rids),
    );
    for (const rid of rids) {
      // Not cached: its lease end (up to `cap`) is not known here.
      this.noteTime(Math.min(cap, this.cache.peek(rid)?.deadline ?? Number.NEGATIVE_INFINITY));
      this.cache.update(rid, (row) => {
        row.state = "leased";
        row.leaseConn = connId;
        row.leaseUntil = Math.min(cap, row.deadline);
        row.attempt += 1;
      });
    }
  }

  extend(rid: number, until: number): void {
    this.writes.run("UPDATE requests SET lease_until = ? WHERE rid = ?", until, rid);
    this.cache.update(rid, (row) => {
      row.leaseUntil = until;
    });
  }

  transferLease(rid: number, connId: string, until: number): void {
    this.writes.run(
      `UPDATE requests SET state = 'leased', lease_conn = ?, lease_until = ?
       WHERE rid = ? AND state IN ('leased', 'queued')`,
      connId,
      until,
      rid,
    );
    this.cache.update(rid, (row) => {
      if (row.state === "done") return;
      row.state = "leased";
      row.leaseConn = connId;
      row.leaseUntil = until;
    });
    this.noteTime(until);
  }

  requeue(rid: number): void {
    this.writes.run("UPDATE requests SET state = 'queued', lease_until = NULL WHERE rid = ?", rid);
    this.cache.update(rid, (row) => {
      row.state = "queued";
      row.leaseUntil = null;
    });
  }

  /** Ends a request: drops its body, keeps its ids and the outcome until delivered (the
   * immediate delivery attempt picks it up; otherwise the alarm retries it). An outcome already
   * `delivered` is not kept. */
  finish(rid: number, frame: Outcome["frame"], now: number, delivered = false): void {
    this.writes.run(
      `UPDATE requests SET state = 'done', body = NULL, headers = NULL, lease_until = NULL,
         outcome = ?, deliver_at = ? WHERE rid = ?`,
      delivered ? null : JSON.stringify(frame),
      delivered ? null : now + DELIVERY_RETRY_MS,
      rid,
    );
    this.noteFinished(rid);
    if (!delivered) {
      this.outcomeWriteCount++;
      this.noteTime(now + DELIVERY_RETRY_MS);
    }
    this.cache.delete(rid);
  }

  finishDelivered(rids: readonly number[]): void {
    if (rids.length === 0) return;
    const set = `UPDATE requests SET state = 'done', body = NULL, headers = NULL,
                   lease_until = NULL, outcome = NULL, deliver_at = NULL`;
    // One request (the serial case) by its key; several through one JSON array parameter.
    const [only] = rids;
    if (rids.length === 1 && only !== undefined) this.writes.run(`${set} WHERE rid = ?`, only);
    else
      this.writes.run(`${set} WHERE rid IN (SELECT value FROM json_each(?))`, JSON.stringify(rids));
    for (const rid of rids) {
      this.noteFinished(rid);
      this.cache.delete(rid);
    }
  }

  /** Live requests leased to `connId`. */
  leasedTo(connId: string): StoredRequest[] {
    const q = "SELECT * FROM requests WHERE state = 'leased' AND lease_conn = ?";
    return this.sql.exec(q, connId).toArray().map(toStored);
  }

  /** Live requests whose deadline has passed. */
  expired(now: number): StoredRequest[] {
    const q = `SELECT * FROM requests WHERE ${LIVE} AND deadline <= ?`;
    return this.sql.exec(q, now).toArray().map(toStored);
  }

  /** Leased requests whose lease ran out before their deadline. */
  leaseEnded(now: number): StoredRequest[] {
    const q = "SELECT * FROM requests WHERE state = 'leased' AND lease_until <= ? AND deadline > ?";
    return this.sql.exec(q, now, now).toArray().map(toStored);
  }

  /** A server connected: every live request has now seen one. */
  markSawServer(): void {
    this.writes.run(`UPDATE requests SET saw_server = 1 WHERE ${LIVE} AND saw_server = 0`);
    this.cache.updateAll((row) => {
      row.sawServer = true;
    });
  }

  /**
   * Outcomes due for delivery, in due order, until the query's character budget is spent (an
   * unreadable one is dropped from the list and logged). A skipped row's outcome is not parsed.
   */
  dueOutcomes({ now, limit, maxChars, skip }: DueQuery): DueOutcomes {
    const q = `SELECT rid, from_identity, outcome, via_link, via_http, deliver_at FROM requests
               WHERE outcome IS NOT NULL AND deliver_at <= ? ORDER BY deliver_at LIMIT ?`;
    const answer: DueOutcomes = { loaded: [], skipped: [], more: false };
    let rows = 0;
    let chars = 0;
    for (const row of this.sql.exec(q, now, limit)) {
      rows++;
      const rid = num(row.rid, "rid");
      const deliverAt = num(row.deliver_at, "deliver_at");
      if (skip(rid)) {
        answer.skipped.push({ rid, deliverAt });
        continue;
      }
      if (chars >= maxChars) {
        answer.more = true;
        break;
      }
      const text = str(row.outcome, "outcome");
      chars += text.length;
      const due = this.readDue(rid, row, text, deliverAt);
      if (due !== undefined) answer.loaded.push(due);
    }
    if (rows >= limit) answer.more = true;
    return answer;
  }

  /** One due row as an outcome, or undefined (and dropped, logged) when it is unreadable. */
  private readDue(
    rid: number,
    row: Record<string, SqlStorageValue>,
    text: string,
    deliverAt: number,
  ): DueOutcome | undefined {
    const frame = readOutcomeFrame(text);
    if (frame === undefined) {
      console.error(JSON.stringify({ evt: "queue.corrupt_outcome", rid }));
      this.writes.run("UPDATE requests SET outcome = NULL, deliver_at = NULL WHERE rid = ?", rid);
      return undefined;
    }
    const outcome: Outcome = { to: str(row.from_identity, "from_identity"), frame };
    if (row.via_http !== null) outcome.viaHttp = row.via_http === 1;
    return { rid, outcome, viaLink: row.via_link === 1, deliverAt };
  }

  delivered(rids: readonly number[]): void {
    for (const rid of rids) {
      this.writes.run("UPDATE requests SET outcome = NULL, deliver_at = NULL WHERE rid = ?", rid);
    }
  }

  retryDelivery(rids: readonly number[], at: number): void {
    for (const rid of rids)
      this.writes.run("UPDATE requests SET deliver_at = ? WHERE rid = ?", at, rid);
    this.outcomeWriteCount++;
    this.noteTime(at);
  }

  linkOutcomesDue(identity: string, at: number): void {
    this.writes.run(
      `UPDATE requests SET deliver_at = ? WHERE from_identity = ? AND via_link = 1
         AND outcome IS NOT NULL AND deliver_at > ?`,
      at,
      identity,
      at,
    );
    this.outcomeWriteCount++;
    this.noteTime(at);
  }

  /** Forgets finished, delivered requests whose dedup window has passed. */
  purge(now: number, dedupWindowMs: number): void {
    this.writes.run(
      "DELETE FROM requests WHERE state = 'done' AND outcome IS NULL AND deadline <= ?",
      now - dedupWindowMs,
    );
  }

  timers(dedupWindowMs: number): StoreTimers {
    const row = this.sql
      .exec(
        `SELECT
           (SELECT MIN(deadline) FROM requests WHERE ${LIVE}) AS d,
           (SELECT MIN(lease_until) FROM requests WHERE state = 'leased') AS l,
           (SELECT MIN(deliver_at) FROM requests WHERE outcome IS NOT NULL) AS r,
           (SELECT MIN(deadline) FROM requests WHERE state = 'done' AND outcome IS NULL) AS p`,
      )
      .one();
    const purge = optNum(row.p, "p");
    return {
      nextDeadline: optNum(row.d, "d") ?? undefined,
      nextLeaseEnd: optNum(row.l, "l") ?? undefined,
      nextDeliveryRetry: optNum(row.r, "r") ?? undefined,
      nextPurge: purge === null ? undefined : purge + dedupWindowMs,
    };
  }

  counts(): { queued: number; leased: number } {
    const q = `SELECT SUM(state = 'queued') AS q, SUM(state = 'leased') AS l FROM requests`;
    const row = this.sql.exec(q).one();
    return { queued: optNum(row.q, "q") ?? 0, leased: optNum(row.l, "l") ?? 0 };
  }
}

/** The row a new request becomes once stored as `rid` (both stores). */
function heldKey(from: string, clientId: string): string {
  return `${from}\n${clientId}`;
}
