/** Fair selection of queued requests: round-robin across identities, FIFO within one. */
import { describe, expect, it } from "vitest";
import { needsRebuild, ReadyIndex } from "../../../durable-objects/queue/ready-index.js";

function drain(index: ReadyIndex): string[] {
  const taken: string[] = [];
  for (let next = index.take(); next !== undefined; next = index.take()) {
    taken.push(`${next.from}:${next.rid}`);
  }
  return taken;
}

describe("ReadyIndex", () => {
  it("takes requests round-robin across identities and FIFO within each", () => {
    const index = ReadyIndex.from([
      { rid: 1, from: "a" },
      { rid: 2, from: "a" },
      { rid: 3, from: "a" },
      { rid: 4, from: "b" },
      { rid: 5, from: "c" },
      { rid: 6, from: "b" },
    ]);
    expect(drain(index)).toEqual(["a:1", "b:4", "c:5", "a:2", "b:6", "a:3"]);
  });

  it("serves a small client's requests within its first turns despite a 5,000-request backlog", () => {
    const rows = Array.from({ length: 5_000 }, (_, i) => ({ rid: i + 1, from: "flood" }));
    const index = ReadyIndex.from(rows);
    for (let i = 0; i < 20; i++) index.add("small", 10_000 + i);
    const first40 = Array.from({ length: 40 }, () => index.take()?.from);
    expect(first40.filter((from) => from === "small")).toHaveLength(20);
  });

  it("keeps relay-id order within an identity when an older request is added back", () => {
    const index = new ReadyIndex();
    index.add("a", 5);
    index.add("a", 9);
    index.add("a", 2);
    index.add("a", 5);
    expect(drain(index)).toEqual(["a:2", "a:5", "a:9"]);
  });

  it("returns undefined and reports size zero when empty", () => {
    const index = ReadyIndex.from([{ rid: 1, from: "a" }]);
    expect(index.size).toBe(1);
    index.take();
    expect(index.take()).toBeUndefined();
    expect(index.size).toBe(0);
  });

  it("gives an identity that arrives later a turn in the ring", () => {
    const index = ReadyIndex.from([
      { rid: 1, from: "a" },
      { rid: 2, from: "a" },
    ]);
    expect(index.take()?.from).toBe("a");
    index.add("b", 3);
    expect(drain(index)).toEqual(["b:3", "a:2"]);
  });

  it("counts its entries as they are added (once each) and taken", () => {
    const index = ReadyIndex.from([
      { rid: 1, from: "a" },
      { rid: 2, from: "b" },
    ]);
    index.add("a", 3);
    index.add("a", 3);
    expect(index.size).toBe(3);
    index.take();
    expect(index.size).toBe(2);
    drain(index);
    expect(index.size).toBe(0);
  });
});

describe("needsRebuild", () => {
  const index = ReadyIndex.from(Array.from({ length: 10 }, (_, i) => ({ rid: i + 1, from: "a" })));

  it("rebuilds a missing index, and one whose requests went back to the queue", () => {
    expect(needsRebuild(undefined, false, 0)).toBe(true);
    expect(needsRebuild(index, true, 0)).toBe(true);
  });

  it("keeps an index while fewer than half its entries may be stale, and rebuilds it from half on", () => {
    expect(needsRebuild(index, false, 0)).toBe(false);
    expect(needsRebuild(index, false, 4)).toBe(false);
    expect(needsRebuild(index, false, 5)).toBe(true);
    // An emptied index whose last requests expired is rebuilt (to nothing), not kept stale.
    expect(needsRebuild(new ReadyIndex(), false, 1)).toBe(true);
  });
});

describe("ReadyIndex requests that run alone", () => {
  it("keeps them apart, oldest first, counted in its size, and takes back what found no server", () => {
    const index = ReadyIndex.from(
      [
        { rid: 5, from: "a", attempt: 2 },
        { rid: 1, from: "a", attempt: 0 },
        { rid: 3, from: "b", attempt: 2 },
        { rid: 4, from: "b", attempt: 1 },
      ],
      (attempt) => attempt >= 2,
    );
    expect(index.size).toBe(4);
    expect(index.aloneCount).toBe(2);
    expect(index.takeAlone()).toEqual([
      { from: "b", rid: 3 },
      { from: "a", rid: 5 },
    ]);
    expect(index.size).toBe(2);
    expect(drain(index)).toEqual(["a:1", "b:4"]);
    index.putBackAlone([{ from: "a", rid: 5 }]);
    index.putBackAlone([{ from: "b", rid: 3 }]);
    expect(index.takeAlone().map((e) => e.rid)).toEqual([3, 5]);
    expect(index.takeAlone()).toEqual([]);
  });
});
