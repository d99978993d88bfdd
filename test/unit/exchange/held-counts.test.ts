/** Per-identity counts of held outcomes kept in step with a table (held-counts.ts). */
import { describe, expect, it } from "vitest";
import { HeldCounts } from "../../../durable-objects/exchange/held-counts.js";
import type { Held } from "../../../durable-objects/exchange/outbox-limits.js";

/** A fake table: what each identity holds, and how often it was read. */
function table(rows: Record<string, Held>) {
  const reads: string[] = [];
  const load = (identity: string): Held => {
    reads.push(identity);
    return rows[identity] ?? { count: 0, bytes: 0 };
  };
  return { rows, reads, load };
}

describe("HeldCounts", () => {
  it("reads an identity's count from the table once, then keeps it current without reading", () => {
    const t = table({ alice: { count: 2, bytes: 30 } });
    const counts = new HeldCounts(t.load);
    expect(counts.get("alice")).toEqual({ count: 2, bytes: 30 });
    counts.add("alice", 10);
    counts.take("alice", 30);
    expect(counts.get("alice")).toEqual({ count: 2, bytes: 10 });
    expect(t.reads).toEqual(["alice"]);
  });

  it("skips changes for an identity not read yet: its first read sees the table as it is then", () => {
    const t = table({});
    const counts = new HeldCounts(t.load);
    counts.add("bob", 100);
    t.rows.bob = { count: 1, bytes: 100 };
    expect(counts.get("bob")).toEqual({ count: 1, bytes: 100 });
  });

  it("never counts below nothing", () => {
    const counts = new HeldCounts(table({ carol: { count: 1, bytes: 5 } }).load);
    counts.get("carol");
    counts.take("carol", 50);
    counts.take("carol", 50);
    expect(counts.get("carol")).toEqual({ count: 0, bytes: 0 });
  });

  it("keeps at most maxIdentities counts, dropping the least recently read, which is read again", () => {
    const t = table({ a: { count: 1, bytes: 1 }, b: { count: 2, bytes: 2 } });
    const counts = new HeldCounts(t.load, 2);
    counts.get("a");
    counts.get("b");
    counts.get("c");
    counts.add("a", 1);
    expect(counts.get("a")).toEqual({ count: 1, bytes: 1 });
    expect(t.reads).toEqual(["a", "b", "c", "a"]);
  });

  it("reads every count again after clear (a transaction that changed some rolled back)", () => {
    const t = table({ dave: { count: 3, bytes: 9 } });
    const counts = new HeldCounts(t.load);
    counts.get("dave");
    counts.add("dave", 1);
    counts.clear();
    expect(counts.get("dave")).toEqual({ count: 3, bytes: 9 });
  });

  it("does not let a caller change a count through what the table's read returned", () => {
    const kept: Held = { count: 1, bytes: 1 };
    const counts = new HeldCounts(() => kept);
    counts.get("erin");
    counts.add("erin", 1);
    expect(kept).toEqual({ count: 1, bytes: 1 });
  });
});
