/** The per-identity token bucket: burst, refill, retry hints and bounded memory, on a fake clock. */
import { describe, expect, it } from "vitest";
import {
  ackLimit,
  MAX_BUCKETS,
  RateLimiter,
  rateLimitedMessage,
  TokenBucket,
} from "../../../durable-objects/shared/token-bucket.js";

const limit = { perSecond: 10, burst: 3 };

describe("TokenBucket", () => {
  it("starts full and allows a burst of its capacity, then refuses", () => {
    const bucket = new TokenBucket(limit, 0);
    expect([bucket.take(0), bucket.take(0), bucket.take(0)]).toEqual([true, true, true]);
    expect(bucket.take(0)).toBe(false);
  });

  it("refills at the configured rate and never above capacity", () => {
    const bucket = new TokenBucket(limit, 0);
    for (let i = 0; i < 3; i++) bucket.take(0);
    expect(bucket.take(50)).toBe(false);
    expect(bucket.take(100)).toBe(true);
    expect(bucket.isFull(10_000)).toBe(true);
    for (let i = 0; i < 3; i++) expect(bucket.take(10_000)).toBe(true);
    expect(bucket.take(10_000)).toBe(false);
  });

  it("tells how long until the next token", () => {
    const bucket = new TokenBucket(limit, 0);
    expect(bucket.retryAfterMs(0)).toBe(0);
    for (let i = 0; i < 3; i++) bucket.take(0);
    expect(bucket.retryAfterMs(0)).toBe(100);
    expect(bucket.retryAfterMs(60)).toBe(40);
  });

  it("ignores a clock that goes backwards instead of minting tokens", () => {
    const bucket = new TokenBucket(limit, 1_000);
    for (let i = 0; i < 3; i++) bucket.take(1_000);
    expect(bucket.take(0)).toBe(false);
    expect(bucket.take(1_050)).toBe(false);
  });
});

describe("RateLimiter", () => {
  it("keeps one bucket per identity, so one noisy identity does not limit another", () => {
    let now = 0;
    const limiter = new RateLimiter(limit, () => now);
    for (let i = 0; i < 3; i++) expect(limiter.take("noisy").ok).toBe(true);
    expect(limiter.take("noisy")).toEqual({ ok: false, retryAfterMs: 100 });
    expect(limiter.take("quiet").ok).toBe(true);
    now = 100;
    expect(limiter.take("noisy").ok).toBe(true);
  });

  it("forgets full buckets once it holds the maximum, so memory stays bounded", () => {
    let now = 0;
    const limiter = new RateLimiter(limit, () => now);
    for (let i = 0; i < MAX_BUCKETS; i++) limiter.take(`id-${i}`);
    now = 1_000;
    limiter.take("newcomer");
    expect(limiter.size).toBe(1);
  });

  it("names the retry delay in its error message", () => {
    expect(rateLimitedMessage(250)).toContain("retry after 250 ms");
  });
});

describe("RateLimiter.take with a count, and the ack budget", () => {
  it("takes several tokens at once, or none when the bucket holds fewer", () => {
    const limiter = new RateLimiter(limit, () => 0);
    expect(limiter.take("k", 2)).toEqual({ ok: true });
    expect(limiter.take("k", 2)).toEqual({ ok: false, retryAfterMs: 100 });
    expect(limiter.take("k", 1)).toEqual({ ok: true });
  });

  it("gives acks ten times the request rate and a hundred times the burst", () => {
    expect(ackLimit({ perSecond: 100, burst: 200 })).toEqual({ perSecond: 1_000, burst: 20_000 });
  });
});
