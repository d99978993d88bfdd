/** The exchange's in-memory outbox for memory-mode outcomes (memory-outbox.ts): bounded, ordered. */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MemoryOutbox } from "../../../durable-objects/exchange/memory-outbox.js";
import {
  MEMORY_BYTES_PER_IDENTITY,
  MEMORY_BYTES_TOTAL,
} from "../../../durable-objects/exchange/outbox-limits.js";
import type { Outcome } from "../../../durable-objects/shared/contracts.js";
import { encodeBody } from "../../../protocol/index.js";

const WINDOW_MS = 300_000;

function reply(to: string, id: string, bytes = 10): Outcome {
  return { to, frame: { type: "reply", id, body: encodeBody("x".repeat(bytes)) }, memory: true };
}

let outbox = new MemoryOutbox(WINDOW_MS);
beforeEach(() => {
  // The purge timer of the outboxes made here never runs.
  vi.useFakeTimers();
  outbox = new MemoryOutbox(WINDOW_MS);
});
afterEach(() => {
  vi.clearAllTimers();
  vi.useRealTimers();
});

describe("MemoryOutbox", () => {
  it("keeps outcomes in key order and counts them per identity", () => {
    expect(outbox.keep(reply("alice", "a"), 1, 0)).toBe(true);
    expect(outbox.keep(reply("alice", "b"), 2, 0)).toBe(true);
    expect(outbox.held("alice").count).toBe(2);
    expect([...outbox.after("alice", 1)].map((o) => o.key)).toEqual([2]);
    expect(outbox.remove("alice", ["a", "zz"])).toEqual(["zz"]);
    expect(outbox.held("alice").count).toBe(1);
  });

  it("refuses an outcome past the identity's memory budget, leaving other identities room", () => {
    const big = 512 * 1024;
    let kept = 0;
    for (let i = 0; outbox.keep(reply("alice", `a${i}`, big), i + 1, 0); i++) kept++;
    expect(kept).toBeGreaterThan(0);
    expect(outbox.held("alice").bytes).toBeLessThanOrEqual(MEMORY_BYTES_PER_IDENTITY);
    expect(outbox.keep(reply("bob", "b0", big), 1_000, 0)).toBe(true);
  });

  it("refuses every outcome once all identities together reach the object's budget", () => {
    const big = encodeBody("x".repeat(1024 * 1024));
    const kept = new Map<string, number>();
    let key = 0;
    for (const identity of ["a", "b", "c", "d", "e", "f"]) {
      let count = 0;
      const next = (): Outcome => ({
        to: identity,
        frame: { type: "reply", id: `${count}`, body: big },
      });
      while (outbox.keep(next(), ++key, 0)) count++;
      kept.set(identity, count);
    }
    expect(outbox.memoryBytes).toBeLessThanOrEqual(MEMORY_BYTES_TOTAL);
    expect(kept.get("a")).toBe(3);
    expect(kept.get("f")).toBe(0);
  });

  it("always keeps a copy of an outcome it holds, moving it to the end with its new key", () => {
    const big = 512 * 1024;
    let i = 0;
    while (outbox.keep(reply("alice", `a${i}`, big), i + 1, 0)) i++;
    expect(outbox.keep(reply("alice", "a0", big), 100, 0)).toBe(true);
    const keys = [...outbox.after("alice", 0)].map((o) => o.key);
    expect(keys.at(-1)).toBe(100);
    expect(keys).toHaveLength(i);
  });

  it("purges outcomes older than the resume window", () => {
    outbox.keep(reply("alice", "old"), 1, 0);
    outbox.keep(reply("alice", "new"), 2, WINDOW_MS);
    outbox.purge(WINDOW_MS + 1);
    expect([...outbox.after("alice", 0)].map((o) => JSON.parse(o.text).id)).toEqual(["new"]);
  });
});
