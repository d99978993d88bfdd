/**
 * The exchange's tables come from versioned migrations (exchange/schema.ts), like the queue's.
 * Adopting a database made before them: exchange-outbox-cap.test.ts; migrating one of version 1:
 * exchange-outcome-polls.test.ts; one of version 2 (its HTTP outcomes count as unread): here.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ExchangeDO } from "../../durable-objects/exchange/exchange-do.js";
import { encodeBody, encodeFrame } from "../../protocol/index.js";

function columns(sql: SqlStorage, table: string): string[] {
  return sql
    .exec(`SELECT name FROM pragma_table_info('${table}')`)
    .toArray()
    .map((row) => String(row.name));
}

function versions(sql: SqlStorage): number[] {
  return sql
    .exec("SELECT version FROM _migrations ORDER BY version")
    .toArray()
    .map((row) => Number(row.version));
}

describe("the exchange's schema", () => {
  it("is made by migrations 1 to 3 in a new object", async () => {
    await runInDurableObject(env.EXCHANGE.getByName("schema-new"), (_instance, state) => {
      const sql = state.storage.sql;
      expect(versions(sql)).toEqual([1, 2, 3]);
      expect(columns(sql, "outbox")).toEqual(["identity", "id", "frame", "created", "size"]);
      expect(columns(sql, "http_requests")).toEqual([
        "identity",
        "id",
        "queue",
        "deadline",
        "expires",
        "outcome",
        "poller",
        "seq",
        "size",
        "read_at",
      ]);
      expect(sql.exec("SELECT id, last FROM outcome_seq").toArray()).toEqual([{ id: 1, last: 0 }]);
      const plan = sql
        .exec(
          `EXPLAIN QUERY PLAN SELECT seq, outcome FROM http_requests
           WHERE identity = 'a' AND poller = 'p' AND seq > 0 AND expires > 0 ORDER BY seq`,
        )
        .toArray()
        .map((row) => String(row.detail));
      expect(plan.join("\n")).toContain("http_requests_polled");
    });
  });

  it("migrates a version-2 database: its outcomes count as unread, with 0 bytes, until read", async () => {
    const identity = "v2-owner";
    await runInDurableObject(env.EXCHANGE.getByName("schema-v2"), async (_instance, state) => {
      const sql = state.storage.sql;
      // Back to version 2, as a relay of the previous release left it.
      sql.exec("DROP TABLE http_requests");
      sql.exec("DELETE FROM _migrations WHERE version = 3");
      sql.exec(`CREATE TABLE http_requests (identity TEXT NOT NULL, id TEXT NOT NULL,
        queue TEXT NOT NULL, deadline INTEGER NOT NULL, expires INTEGER NOT NULL, outcome TEXT,
        poller TEXT, seq INTEGER, PRIMARY KEY (identity, id))`);
      const deadline = Date.now() + 60_000;
      const done = encodeFrame({ type: "reply", id: "old-done", body: encodeBody("kept") });
      sql.exec(
        "INSERT INTO http_requests VALUES (?, 'old-done', 'v2-q', ?, ?, ?, NULL, NULL)",
        identity,
        deadline,
        deadline + 300_000,
        done,
      );

      const woken = new ExchangeDO(state, env);
      expect(versions(sql)).toEqual([1, 2, 3]);
      const held = () =>
        (woken as unknown as { held(identity: string): { count: number; bytes: number } }).held(
          identity,
        );
      expect(held()).toEqual({ count: 1, bytes: 0 });
      const read = await woken.awaitOutcome({ identity, id: "old-done", waitMs: 0 });
      expect(read).toMatchObject({ state: "done", frame: { id: "old-done" } });
      expect(held()).toEqual({ count: 0, bytes: 0 });
    });
  });
});
