/**
 * The ExchangeDO's SQLite schema and its migrations (shared/migrations.ts), run when the object
 * starts, before its tables are used.
 *   outbox(identity, id, frame, created, size) - outcomes waiting for a WebSocket client's ack
 *     (outbox.ts); its rowid is the outcome's key in store order; `size` is the frame's length.
 *   http_requests(identity, id, queue, deadline, expires, outcome) - HTTP clients' requests and
 *     their outcomes once delivered (http-requests.ts).
 */
import { type Migration, migrate } from "../shared/migrations.js";

const OUTBOX = `CREATE TABLE IF NOT EXISTS outbox (
  identity TEXT NOT NULL,
  id TEXT NOT NULL,
  frame TEXT NOT NULL,
  created INTEGER NOT NULL,
  size INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (identity, id)
)`;

const HTTP_REQUESTS = `CREATE TABLE IF NOT EXISTS http_requests (
  identity TEXT NOT NULL,
  id TEXT NOT NULL,
  queue TEXT NOT NULL,
  deadline INTEGER NOT NULL,
  expires INTEGER NOT NULL,
  outcome TEXT,
  PRIMARY KEY (identity, id)
)`;

const MIGRATIONS: readonly Migration[] = [
  // Version 1 also adopts a database made before versioned migrations: its tables may exist,
  // and an outbox made before `size` gets it (its rows count as 0 bytes until they go).
  (sql) => {
    sql.exec(OUTBOX);
    const sized = sql
      .exec("SELECT 1 FROM pragma_table_info('outbox') WHERE name = 'size'")
      .toArray().length;
    if (sized === 0) sql.exec("ALTER TABLE outbox ADD COLUMN size INTEGER NOT NULL DEFAULT 0");
    sql.exec(HTTP_REQUESTS);
  },
];

/** Brings the exchange's database up to the latest schema. */
export function migrateExchange(sql: SqlStorage, transaction: (fn: () => void) => void): void {
  migrate(sql, transaction, MIGRATIONS);
}
