/**
 * The ExchangeDO's `outbox` table: each outcome (reply or error) waits here, keyed by
 * (identity, request id), until its client acks it or the resume window passes. Thin typed access
 * over the object's SQLite (the table is made by schema.ts); rows read back are checked, never
 * cast. Used by exchange-do.ts.
 *
 * A row's rowid is its key in store order (OutboxKeys, shared with memory-outbox.ts), which the
 * replay pages by (replay-pages.ts); `size` is its frame's length. How many rows, and bytes, each
 * identity has is counted in memory (held-counts.ts: loaded from the table the first time it is
 * asked for an identity, then kept current by `store`, `remove` and the purges), so the cap on
 * what an identity may hold (outbox-limits.ts) costs no read on the hot path.
 */
import { encodeFrame, isIdentity, isRequestId } from "../../protocol/index.js";
import type { Outcome } from "../shared/contracts.js";
import { HeldCounts, heldOfRow } from "./held-counts.js";
import type { Held } from "./outbox-limits.js";
import type { PendingOutcome } from "./replay-pages.js";

/**
 * How long an unacked outcome waits for its client at least (`resumeWindowMs`: longer where
 * requests may live longer). A client away longer than its requests' deadlines has given up on
 * them, so the alarm purges the row.
 */
export const RESUME_WINDOW_MS = 5 * 60_000;

/**
 * How long an unacked outcome waits for its client on a relay whose longest request timeout is
 * `maxTimeoutMs`: the resume window, or that timeout when it is longer. An outcome comes after
 * its request was sent, so its client stops waiting for it no later than that much after it.
 */
export function resumeWindowMs(maxTimeoutMs: number): number {
  return Math.max(RESUME_WINDOW_MS, maxTimeoutMs);
}

const INSERT =
  "INSERT OR IGNORE INTO outbox (rowid, identity, id, frame, created, size) VALUES (?, ?, ?, ?, ?, ?)";
const DELETE = "DELETE FROM outbox WHERE identity = ? AND id = ? RETURNING size";

/** An outcome to store, with its key (OutboxKeys). */
export interface StoredOutcome {
  outcome: Outcome;
  key: number;
}

/** An outcome whose recipient and request id can key an outbox row. */
export function isDeliverable(outcome: Outcome): boolean {
  return isIdentity(outcome.to) && isRequestId(outcome.frame.id);
}

/**
 * Keys in store order for both outboxes: increasing, never reused, also across restarts and
 * hibernation (a socket's replay cursor survives those): time-based (milliseconds × 1,000, plus a
 * count within the millisecond), and above every key the table holds.
 */
export class OutboxKeys {
  private last: number;

  constructor(largestStored: number) {
    this.last = largestStored;
  }

  next(now: number): number {
    this.last = Math.max(this.last + 1, now * 1_000);
    return this.last;
  }
}

export class Outbox {
  private readonly storage: DurableObjectStorage;
  readonly keys: OutboxKeys;
  /** Rows and bytes per identity, for the identities asked about since the object started. */
  private readonly counted: HeldCounts;

  constructor(storage: DurableObjectStorage) {
    this.storage = storage;
    this.counted = new HeldCounts((identity) => this.count(identity));
    const row = storage.sql.exec("SELECT MAX(rowid) AS largest FROM outbox").one();
    this.keys = new OutboxKeys(typeof row.largest === "number" ? row.largest : 0);
  }

  /**
   * Writes every outcome in one transaction, each under its key; a later outcome for the same
   * id replaces the row (and moves to the end of the order).
   */
  store(outcomes: readonly StoredOutcome[], now: number): void {
    const sql = this.storage.sql;
    this.counting(() => {
      for (const { outcome, key } of outcomes) {
        const { to, frame } = outcome;
        const text = encodeFrame(frame);
        const size = text.length;
        if (sql.exec(INSERT, key, to, frame.id, text, now, size).rowsWritten === 0) {
          // Rare: a copy of this outcome is stored already (a queue delivered it again).
          this.forget(to, frame.id ?? "");
          sql.exec(INSERT, key, to, frame.id, text, now, size);
        }
        this.counted.add(to, size);
      }
    });
  }

  /** Forgets the outcomes a client acked. Unknown ids are ignored (an ack may arrive twice). */
  remove(identity: string, ids: readonly string[]): void {
    this.counting(() => {
      for (const id of ids) this.forget(identity, id);
    });
  }

  /** Runs `fn` in a transaction; if it rolls back, the counts it changed are read again later. */
  private counting(fn: () => void): void {
    try {
      this.storage.transactionSync(fn);
    } catch (error) {
      this.counted.clear();
      throw error;
    }
  }

  private forget(identity: string, id: string): void {
    for (const row of this.storage.sql.exec(DELETE, identity, id)) {
      this.counted.take(identity, typeof row.size === "number" ? row.size : 0);
    }
  }

  /** How many outcomes, and bytes of them, wait for `identity` (read once, then kept current). */
  held(identity: string): Readonly<Held> {
    return this.counted.get(identity);
  }

  /** `identity`'s rows and their bytes, as the table holds them. */
  private count(identity: string): Held {
    const sql = "SELECT COUNT(*) AS count, TOTAL(size) AS bytes FROM outbox WHERE identity = ?";
    return heldOfRow(this.storage.sql.exec(sql, identity).one());
  }

  /**
   * The stored outcomes of `identity` with keys after `after`, in key order, at most `limit`:
   * the keys are found in the primary key's index, and each frame is read only when the caller
   * takes it (a page stops at its byte budget without reading the rest).
   */
  *after(identity: string, after: number, limit: number): Generator<PendingOutcome> {
    const cursor = this.storage.sql.exec(
      `SELECT rowid AS key, frame FROM outbox WHERE rowid IN
         (SELECT rowid FROM outbox WHERE identity = ? AND rowid > ? ORDER BY rowid LIMIT ?)
       ORDER BY rowid`,
      identity,
      after,
      limit,
    );
    for (const row of cursor) {
      if (typeof row.key === "number" && typeof row.frame === "string") {
        yield { key: row.key, text: row.frame };
      }
    }
  }

  /** Deletes rows created before `cutoff`, taking them off the counts; returns how many went. */
  purge(cutoff: number): number {
    return this.uncount(
      this.storage.sql.exec(
        "DELETE FROM outbox WHERE created < ? RETURNING identity, size",
        cutoff,
      ),
    );
  }

  /**
   * Deletes `identity`'s rows created before `cutoff` (found through its primary key), so that
   * what its client is replayed or counted against its cap never includes an outcome past the
   * resume window, which the alarm purges only once a minute (purgeAt).
   */
  purgeIdentity(identity: string, cutoff: number): number {
    return this.uncount(
      this.storage.sql.exec(
        "DELETE FROM outbox WHERE identity = ? AND created < ? RETURNING identity, size",
        identity,
        cutoff,
      ),
    );
  }

  /** Takes deleted rows off the counts; returns how many there were. */
  private uncount(gone: Iterable<Record<string, SqlStorageValue>>): number {
    let purged = 0;
    for (const row of gone) {
      purged++;
      if (typeof row.identity !== "string") continue;
      this.counted.take(row.identity, typeof row.size === "number" ? row.size : 0);
    }
    return purged;
  }

  /** Creation time of the oldest row, if any. */
  oldest(): number | undefined {
    const row = this.storage.sql.exec("SELECT MIN(created) AS oldest FROM outbox").one();
    return typeof row.oldest === "number" ? row.oldest : undefined;
  }
}
