/**
 * The exchange's tables come from versioned migrations (exchange/schema.ts), like the queue's.
 * Adopting a database made before them: exchange-outbox-cap.test.ts; migrating one of version 1:
 * exchange-outcome-polls.test.ts.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

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
  it("is made by migrations 1 and 2 in a new object", async () => {
    await runInDurableObject(env.EXCHANGE.getByName("schema-new"), (_instance, state) => {
      const sql = state.storage.sql;
      expect(versions(sql)).toEqual([1, 2]);
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
});
