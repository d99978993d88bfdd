/**
 * The exchange's tables come from versioned migrations (exchange/schema.ts), like the queue's.
 * Adopting a database made before them: exchange-outbox-cap.test.ts.
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
  it("is made by migration 1 in a new object", async () => {
    await runInDurableObject(env.EXCHANGE.getByName("schema-new"), (_instance, state) => {
      const sql = state.storage.sql;
      expect(versions(sql)).toEqual([1]);
      expect(columns(sql, "outbox")).toEqual(["identity", "id", "frame", "created", "size"]);
      expect(columns(sql, "http_requests")).toContain("outcome");
    });
  });
});
