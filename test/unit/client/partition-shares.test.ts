import { describe, expect, it } from "vitest";
import { takePartition } from "../../../client/http-partitions.js";
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
    expect(takePartition(0, 4, 1, 0)).toBeUndefined();
  });

  it("gives each partition its own loop when there are at least K loops", () => {
    const polled = [0, 1, 2, 3, 4].map((loop) => takePartition(loop, 5, 4, 7));
    expect(polled).toEqual([0, 1, 2, 3, 0]);
  });

  it("rotates each of fewer loops through its own partitions, covering them all", () => {
    const seen = new Set<number | undefined>();
    for (let turn = 0; turn < 4; turn++) {
      seen.add(takePartition(0, 2, 4, turn));
      seen.add(takePartition(1, 2, 4, turn));
    }
    expect([...seen].sort()).toEqual([0, 1, 2, 3]);
    expect(takePartition(0, 2, 4, 0)).toBe(0);
    expect(takePartition(0, 2, 4, 1)).toBe(2);
  });
});
