/**
 * Versioned SQLite migrations for a Durable Object (the platform has no `PRAGMA user_version`):
 * a `_migrations` table records each version applied, and each migration runs once, in its own
 * transaction, in order. A migration is SQL, or a function for a step SQL alone cannot say (a
 * column added only where it is missing). Used by queue/schema.ts and exchange/schema.ts.
 */

export type Migration = string | ((sql: SqlStorage) => void);

/** Brings the database up to the latest of `migrations` (version n is `migrations[n - 1]`). */
export function migrate(
  sql: SqlStorage,
  transaction: (fn: () => void) => void,
  migrations: readonly Migration[],
): void {
  sql.exec(
    "CREATE TABLE IF NOT EXISTS _migrations (version INTEGER PRIMARY KEY, applied INTEGER NOT NULL)",
  );
  const row = sql.exec("SELECT MAX(version) AS v FROM _migrations").one();
  const current = typeof row.v === "number" ? row.v : 0;
  migrations.forEach((migration, i) => {
    const version = i + 1;
    if (version <= current) return;
    transaction(() => {
      if (typeof migration === "string") sql.exec(migration);
      else migration(sql);
      sql.exec("INSERT INTO _migrations (version, applied) VALUES (?, ?)", version, Date.now());
    });
  });
}
