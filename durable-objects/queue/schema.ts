/**
 * The QueueDO's SQLite schema and its migrations (run once per wake in blockConcurrencyWhile).
 *   meta(key, value)       - the queue's name (a Durable Object does not know its own).
 *   requests               - one row per request, UNIQUE(from_identity, client_id):
 *     rid (relay id), client_id, from_identity, body/headers (JSON; NULL once done), deadline,
 *     created, attempt (dispatches so far), state queued|leased|done, lease_conn, lease_until,
 *     saw_server (0/1), outcome (client frame JSON awaiting delivery; NULL once delivered),
 *     deliver_at (next delivery try), via_link (1: it came on the client's queue link, so its
 *     outcome goes back down the link when it can), via_http (1: an HTTP POST sent it, 0: a
 *     WebSocket did; NULL for rows from before the column: a resend on either is taken). Done rows
 *     keep their ids until deadline + dedupWindowMs.
 */
import { type Migration, migrate } from "../shared/migrations.js";

const MIGRATIONS: readonly Migration[] = [
  `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   CREATE TABLE requests (
     rid INTEGER PRIMARY KEY AUTOINCREMENT,
     client_id TEXT NOT NULL,
     from_identity TEXT NOT NULL,
     body TEXT,
     headers TEXT,
     deadline INTEGER NOT NULL,
     created INTEGER NOT NULL,
     attempt INTEGER NOT NULL DEFAULT 0,
     state TEXT NOT NULL,
     lease_conn TEXT,
     lease_until INTEGER,
     saw_server INTEGER NOT NULL DEFAULT 0,
     outcome TEXT,
     deliver_at INTEGER,
     UNIQUE (from_identity, client_id)
   );
   CREATE INDEX requests_state_deadline ON requests (state, deadline);
   CREATE INDEX requests_pending ON requests (deliver_at) WHERE outcome IS NOT NULL;`,
  `ALTER TABLE requests ADD COLUMN via_link INTEGER NOT NULL DEFAULT 0;`,
  `ALTER TABLE requests ADD COLUMN via_http INTEGER;`,
];

/** Brings the queue's database up to the latest schema (shared/migrations.ts). */
export function migrateQueue(sql: SqlStorage, transaction: (fn: () => void) => void): void {
  migrate(sql, transaction, MIGRATIONS);
}

/** Records the queue's name in `meta` (a Durable Object does not know its own); first one wins. */
export function writeQueueName(sql: SqlStorage, name: string): void {
  sql.exec("INSERT OR IGNORE INTO meta (key, value) VALUES ('queue', ?)", name);
}
