import { describe, expect, it } from "vitest";
import { backoffDelay, DEFAULT_BACKOFF } from "../../../client/backoff.js";

const bounds = { minDelayMs: 100, maxDelayMs: 10_000 };

describe("full-jitter backoff", () => {
  it("waits zero when the random draw is zero", () => {
    expect(backoffDelay(5, bounds, () => 0)).toBe(0);
  });

  it("stays below min * 2^attempt for a draw just under one", () => {
    const almostOne = () => 0.999_999;
    expect(backoffDelay(0, bounds, almostOne)).toBe(99);
    expect(backoffDelay(3, bounds, almostOne)).toBe(799);
  });

  it("never exceeds the maximum delay however many attempts failed", () => {
    for (const attempt of [7, 8, 20, 31, 32, 1_000]) {
      expect(backoffDelay(attempt, bounds, () => 0.999_999)).toBeLessThan(bounds.maxDelayMs);
    }
  });

  it("scales the ceiling by the random draw (full jitter, not equal jitter)", () => {
    expect(backoffDelay(2, bounds, () => 0.5)).toBe(200);
  });

  it("defaults to 100 ms minimum and 10 s maximum", () => {
    expect(DEFAULT_BACKOFF).toEqual({ minDelayMs: 100, maxDelayMs: 10_000 });
  });
});
