/**
 * The ExchangeDO's SQLite schema and its migrations (shared/migrations.ts), run when the object
 * starts, before its tables are used.
 *   outbox(identity, id, frame, created, size) - outcomes waiting for a WebSocket client's ack
 *     (outbox.ts); its rowid is the outcome's key in store order; `size` is the frame's length.
 *   http_requests(identity, id, queue, deadline, expires, outcome, poller, seq, size, read_at) -
 *     HTTP clients' requests and their outcomes once delivered (http-requests.ts); `poller` is the
 *     tag the POST named (EdgeMQ-Poller; NULL: none), and `seq` the outcome's number for its
 *     poller's polls (set with the outcome when the row has a poller), indexed by
 *     (identity, poller, seq); `size` is the outcome frame's length and `read_at` when an answer
 *     first carried it (NULL: unread; an unread outcome counts toward its identity's cap).
 *   outcome_seq(id, last) - one row: the last `seq` given (outcome-seq.ts); it only grows, so a
 *     number is never given twice, even after the rows that held the largest ones are purged.
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

/** Version 2's columns of `http_requests`: the poller tag and the outcome's number. */
const POLLED_COLUMNS = [
  ["poller", "TEXT"],
  ["seq", "INTEGER"],
] as const;

/** Version 3's columns of `http_requests`: the outcome's size and when it was first read. */
const READ_COLUMNS = [
  ["size", "INTEGER NOT NULL DEFAULT 0"],
  ["read_at", "INTEGER"],
] as const;

/** Adds each of `columns` to `table` where it is missing (a migration adopts what it finds). */
function addMissing(
  sql: SqlStorage,
  table: string,
  columns: readonly (readonly [string, string])[],
) {
  for (const [name, type] of columns) {
    const present = sql
      .exec(`SELECT 1 FROM pragma_table_info('${table}') WHERE name = ?`, name)
      .toArray().length;
    if (present === 0) sql.exec(`ALTER TABLE ${table} ADD COLUMN ${name} ${type}`);
  }
}

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
  // Version 2: outcome polls (GET /v1/outcomes). Like version 1 it adopts what it finds: a column
  // is added only where it is missing, and the counter starts above every number a row holds.
  (sql) => {
    addMissing(sql, "http_requests", POLLED_COLUMNS);
    sql.exec(`CREATE INDEX IF NOT EXISTS http_requests_polled
      ON http_requests (identity, poller, seq) WHERE poller IS NOT NULL`);
    sql.exec(`CREATE TABLE IF NOT EXISTS outcome_seq (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      last INTEGER NOT NULL
    )`);
    sql.exec(`INSERT OR IGNORE INTO outcome_seq (id, last)
      SELECT 1, COALESCE(MAX(seq), 0) FROM http_requests`);
  },
  // Version 3: an HTTP outcome counts toward its identity's cap until read. Rows from before it
  // count as unread (nothing recorded that they were read, so a client may still be waiting for
  // them), with 0 bytes (their size was not recorded), until they expire at their deadline plus
  // the resume window as before, within 10 minutes.
  (sql) => addMissing(sql, "http_requests", READ_COLUMNS),
];

/** Brings the exchange's database up to the latest schema. */
export function migrateExchange(sql: SqlStorage, transaction: (fn: () => void) => void): void {
  migrate(sql, transaction, MIGRATIONS);
}
