/** Live request counts kept in memory for admission (live-counts.ts). */
import { describe, expect, it } from "vitest";
import { LiveCounts } from "../../../durable-objects/queue/live-counts.js";

describe("LiveCounts", () => {
  it("is unknown until loaded, and then counts in all and per client", () => {
    const counts = new LiveCounts();
    expect(counts.known).toBe(false);
    expect(counts.depth()).toBeUndefined();
    expect(counts.of("alice")).toBeUndefined();
    counts.load([
      { from: "alice", n: 2 },
      { from: "bob", n: 1 },
    ]);
    expect(counts.depth()).toBe(3);
    expect(counts.of("alice")).toBe(2);
    expect(counts.of("carol")).toBe(0);
  });

  it("moves with requests added and ended", () => {
    const counts = new LiveCounts();
    counts.load([]);
    counts.added("alice");
    counts.added("alice");
    counts.added("bob");
    counts.ended("alice");
    expect(counts.depth()).toBe(2);
    expect(counts.of("alice")).toBe(1);
    counts.ended("alice");
    expect(counts.of("alice")).toBe(0);
    expect(counts.depth()).toBe(1);
  });

  it("becomes unknown when a request of an unknown client ends, or one not counted", () => {
    const counts = new LiveCounts();
    counts.load([{ from: "alice", n: 1 }]);
    counts.ended(undefined);
    expect(counts.known).toBe(false);
    counts.load([{ from: "alice", n: 1 }]);
    counts.ended("bob");
    expect(counts.known).toBe(false);
  });

  it("ignores changes while unknown, and forget drops what it knew", () => {
    const counts = new LiveCounts();
    counts.added("alice");
    expect(counts.known).toBe(false);
    counts.load([{ from: "alice", n: 4 }]);
    counts.forget();
    expect(counts.depth()).toBeUndefined();
    counts.load([]);
    expect(counts.of("alice")).toBe(0);
  });
});
