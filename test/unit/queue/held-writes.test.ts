/** Write statements held for the next event (held-writes.ts), against a recording SqlStorage. */
import { describe, expect, it } from "vitest";
import { HeldWrites, type SqlRunner } from "../../../durable-objects/queue/held-writes.js";

function fakeSql(): { sql: SqlRunner; ran: unknown[][] } {
  const ran: unknown[][] = [];
  const sql: SqlRunner = {
    exec: (query, ...params) => {
      ran.push([query, ...params]);
    },
  };
  return { sql, ran };
}

describe("HeldWrites", () => {
  it("runs statements at once when not holding", () => {
    const { sql, ran } = fakeSql();
    const writes = new HeldWrites(sql);
    writes.run("A", 1);
    expect(ran).toEqual([["A", 1]]);
    expect(writes.holding).toBe(false);
  });

  it("holds statements until release, then runs them in order", () => {
    const { sql, ran } = fakeSql();
    const writes = new HeldWrites(sql);
    expect(writes.hold()).toBe(true);
    expect(writes.hold()).toBe(false);
    writes.run("A", 1);
    writes.run("B", 2);
    expect(ran).toEqual([]);
    writes.release();
    expect(ran).toEqual([
      ["A", 1],
      ["B", 2],
    ]);
    expect(writes.holding).toBe(false);
    writes.run("C");
    expect(ran.at(-1)).toEqual(["C"]);
  });

  it("forgets everything held on discard", () => {
    const { sql, ran } = fakeSql();
    const writes = new HeldWrites(sql);
    writes.hold();
    writes.run("A");
    writes.discard();
    expect(writes.holding).toBe(false);
    writes.release();
    expect(ran).toEqual([]);
  });
});
