/**
 * The ExchangeDO's `outbox` table: each outcome (reply or error) waits here, keyed by
 * (identity, request id), until its client acks it or the resume window passes. Thin typed access
 * over the object's SQLite; rows read back are checked, never cast. Used by exchange-do.ts.
 */
import { encodeFrame, isIdentity, isRequestId } from "../../protocol/index.js";
import type { Outcome } from "../shared/contracts.js";

/**
 * How long an unacked outcome waits for its client. A client that is away longer than this has
 * given up on its requests (the longest deadline is 5 minutes), so the alarm purges the row.
 */
export const RESUME_WINDOW_MS = 5 * 60_000;

const SCHEMA = `CREATE TABLE IF NOT EXISTS outbox (
  identity TEXT NOT NULL,
  id TEXT NOT NULL,
  frame TEXT NOT NULL,
  created INTEGER NOT NULL,
  PRIMARY KEY (identity, id)
)`;

/** An outcome whose recipient and request id can key an outbox row. */
export function isDeliverable(outcome: Outcome): boolean {
  return isIdentity(outcome.to) && isRequestId(outcome.frame.id);
}

export class Outbox {
  private readonly storage: DurableObjectStorage;

  constructor(storage: DurableObjectStorage) {
    this.storage = storage;
    this.storage.sql.exec(SCHEMA);
  }

  /** Writes every outcome in one transaction; a later outcome for the same id replaces the row. */
  store(outcomes: readonly Outcome[], now: number): void {
    this.storage.transactionSync(() => {
      for (const { to, frame } of outcomes) {
        this.storage.sql.exec(
          "INSERT OR REPLACE INTO outbox (identity, id, frame, created) VALUES (?, ?, ?, ?)",
          to,
          frame.id,
          encodeFrame(frame),
          now,
        );
      }
    });
  }

  /** Forgets the outcomes a client acked. Unknown ids are ignored (an ack may arrive twice). */
  remove(identity: string, ids: readonly string[]): void {
    this.storage.transactionSync(() => {
      for (const id of ids) {
        this.storage.sql.exec("DELETE FROM outbox WHERE identity = ? AND id = ?", identity, id);
      }
    });
  }

  /** The stored frame texts of `identity`, oldest first. */
  pending(identity: string): string[] {
    const cursor = this.storage.sql.exec(
      "SELECT frame FROM outbox WHERE identity = ? ORDER BY created, rowid",
      identity,
    );
    const frames: string[] = [];
    for (const row of cursor) if (typeof row.frame === "string") frames.push(row.frame);
    return frames;
  }

  /** Deletes rows created before `cutoff`; returns how many went. */
  purge(cutoff: number): number {
    return this.storage.sql.exec("DELETE FROM outbox WHERE created < ?", cutoff).rowsWritten;
  }

  /** Creation time of the oldest row, if any. */
  oldest(): number | undefined {
    const row = this.storage.sql.exec("SELECT MIN(created) AS oldest FROM outbox").one();
    return typeof row.oldest === "number" ? row.oldest : undefined;
  }
}
