import { describe, expect, it } from "vitest";
import { takeLoops, takePartition } from "../../../client/http-partitions.js";
import { concurrencyShare } from "../../../client/partitioned-service.js";

describe("a WebSocket server's concurrency over K partitions", () => {
  it("splits evenly, the remainder going to the first partitions", () => {
    expect([0, 1, 2, 3].map((p) => concurrencyShare(10, 4, p))).toEqual([3, 3, 2, 2]);
    expect([0, 1].map((p) => concurrencyShare(16, 2, p))).toEqual([8, 8]);
  });

  it("gives every partition at least one slot, so at most max(c, K) run at once", () => {
    const shares = [0, 1, 2, 3].map((p) => concurrencyShare(2, 4, p));
    expect(shares).toEqual([1, 1, 1, 1]);
    expect(shares.reduce((a, b) => a + b, 0)).toBe(Math.max(2, 4));
  });
});

describe("an HTTP server's take loops over K partitions", () => {
  it("names no partition until the queue is known to have several", () => {
    expect(takePartition(0, 1)).toBeUndefined();
  });

  it("runs max(c, K) loops, so every partition always has its own long-poll", () => {
    expect(takeLoops(16, 1)).toBe(16);
    expect(takeLoops(1, 4)).toBe(4);
    const polled = Array.from({ length: takeLoops(2, 4) }, (_, loop) => takePartition(loop, 4));
    expect(polled).toEqual([0, 1, 2, 3]);
  });

  it("doubles loops up on the partitions when there are more loops than partitions", () => {
    const polled = Array.from({ length: takeLoops(5, 4) }, (_, loop) => takePartition(loop, 4));
    expect(polled).toEqual([0, 1, 2, 3, 0]);
  });
});
