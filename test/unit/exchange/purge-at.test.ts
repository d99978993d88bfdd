import { describe, expect, it } from "vitest";
import { PURGE_STEP_MS, purgeAt } from "../../../durable-objects/exchange/outbox-limits.js";

describe("purgeAt", () => {
  it("puts every expiry within a minute on that minute's end, so one alarm purges them all", () => {
    const minute = 29_000_000 * PURGE_STEP_MS;
    expect(purgeAt(minute + 1)).toBe(minute + PURGE_STEP_MS);
    expect(purgeAt(minute + PURGE_STEP_MS - 1)).toBe(minute + PURGE_STEP_MS);
    expect(purgeAt(minute)).toBe(minute);
  });

  it("never purges before the expiry, and has nothing to do without one", () => {
    for (const expiry of [1, 59_999, 60_001, 1_764_478_123_456]) {
      expect(purgeAt(expiry)).toBeGreaterThanOrEqual(expiry);
      expect(purgeAt(expiry)).toBeLessThan(expiry + PURGE_STEP_MS);
    }
    expect(purgeAt(undefined)).toBeUndefined();
  });
});
