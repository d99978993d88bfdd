/**
 * The unread outcomes of HTTP requests (the `http_requests` table, http-requests.ts). HTTP has no
 * ack: an outcome is unread from when it is stored until an answer first carries it (the
 * synchronous POST that waited for it, `GET /v1/requests/{id}`, or a `GET /v1/outcomes` answer),
 * and until then counts toward its identity's cap together with its WebSocket outbox
 * (outbox-limits.ts). Read, it counts no more, and its row is kept READ_KEEP_MS past that first
 * read, or until its expiry if that is sooner (`expires` becomes the earlier of the two), for a
 * client that asks again after losing the answer. Each identity's unread outcomes are counted in
 * memory (held-counts.ts: read from the table once per identity after the object wakes, then kept
 * current here as outcomes are stored, read and deleted), so a cap check reads nothing; every
 * delete of rows goes through here for that. Used by http-requests.ts and http-clients.ts.
 */
import { HeldCounts, heldOfRow } from "./held-counts.js";
import { type Held, READ_KEEP_MS } from "./outbox-limits.js";

/** Each row a DELETE removes, with its outcome's size when the outcome was unread (else NULL). */
const RETURNING_UNREAD =
  "RETURNING identity, CASE WHEN outcome IS NOT NULL AND read_at IS NULL THEN size END AS unread";

/** A first read: it counts no more, and is kept READ_KEEP_MS more at most (params: now, keep). */
const SET_READ = "SET read_at = ?, expires = MIN(expires, ?)";

type Rows = Iterable<Record<string, SqlStorageValue>>;

export class HttpUnread {
  /** Each identity's unread outcomes and their bytes, for the identities asked about. */
  private readonly counts: HeldCounts;

  constructor(private readonly storage: DurableObjectStorage) {
    this.counts = new HeldCounts((identity) => this.#count(identity));
  }

  /** `identity`'s unread outcomes and their bytes (read once, then kept current). */
  held(identity: string): Readonly<Held> {
    return this.counts.get(identity);
  }

  /** An outcome of `size` was stored for `identity`: unread. */
  stored(identity: string, size: number): void {
    this.counts.add(identity, size);
  }

  /** Runs `fn` in a transaction; if it rolls back, the counts it changed are read again later. */
  transaction(fn: () => void): void {
    try {
      this.storage.transactionSync(fn);
    } catch (error) {
      this.counts.clear();
      throw error;
    }
  }

  /** The outcome of `identity`'s request `id` was answered at `now`: true on its first read. */
  markRead(identity: string, id: string, now: number): boolean {
    const rows = this.storage.sql.exec(
      `UPDATE http_requests ${SET_READ}
       WHERE identity = ? AND id = ? AND outcome IS NOT NULL AND read_at IS NULL
       RETURNING size`,
      now,
      now + READ_KEEP_MS,
      identity,
      id,
    );
    return this.#read(identity, rows);
  }

  /**
   * A poll's answer of `identity`'s `poller` after `after`, up to the cursor `upTo`, was given at
   * `now`: its outcomes (the rows numbered in that range and not expired then) are read. True
   * when any was read for the first time.
   */
  markPolledRead(identity: string, poller: string, after: number, upTo: number, now: number) {
    const rows = this.storage.sql.exec(
      `UPDATE http_requests ${SET_READ}
       WHERE identity = ? AND poller = ? AND seq > ? AND seq <= ? AND expires > ?
         AND read_at IS NULL
       RETURNING size`,
      now,
      now + READ_KEEP_MS,
      identity,
      poller,
      after,
      upTo,
      now,
    );
    return this.#read(identity, rows);
  }

  /** Deletes `identity`'s row of `id`, if any. */
  delete(identity: string, id: string): void {
    const sql = `DELETE FROM http_requests WHERE identity = ? AND id = ? ${RETURNING_UNREAD}`;
    this.#uncount(this.storage.sql.exec(sql, identity, id));
  }

  /** Deletes every row expired by `now`; returns how many went. */
  purge(now: number): number {
    const sql = `DELETE FROM http_requests WHERE expires <= ? ${RETURNING_UNREAD}`;
    return this.#uncount(this.storage.sql.exec(sql, now));
  }

  /**
   * Deletes `identity`'s rows expired by `now` (found through the primary key), so its cap never
   * counts an outcome past its expiry, which the alarm purges only once a minute (purgeAt).
   */
  purgeIdentity(identity: string, now: number): number {
    const sql = `DELETE FROM http_requests WHERE identity = ? AND expires <= ? ${RETURNING_UNREAD}`;
    return this.#uncount(this.storage.sql.exec(sql, identity, now));
  }

  /** Takes the rows just read off `identity`'s count; true when there were any. */
  #read(identity: string, rows: Rows): boolean {
    let read = false;
    for (const row of rows) {
      read = true;
      this.counts.take(identity, typeof row.size === "number" ? row.size : 0);
    }
    return read;
  }

  /** Takes deleted rows' unread outcomes off their counts; returns how many rows went. */
  #uncount(gone: Rows): number {
    let rows = 0;
    for (const row of gone) {
      rows++;
      if (typeof row.identity === "string" && typeof row.unread === "number") {
        this.counts.take(row.identity, row.unread);
      }
    }
    return rows;
  }

  /** `identity`'s unread outcomes and their bytes, as the table holds them. */
  #count(identity: string): Held {
    const sql = `SELECT COUNT(*) AS count, TOTAL(size) AS bytes FROM http_requests
      WHERE identity = ? AND outcome IS NOT NULL AND read_at IS NULL`;
    return heldOfRow(this.storage.sql.exec(sql, identity).one());
  }
}
