/**
 * Per-identity rate limits: a token bucket per key. A bucket holds at most `burst` tokens, starts
 * full and refills continuously at `perSecond` tokens per second; each request takes one, and a
 * request that finds the bucket empty is refused (`rate_limited`) with the time until a token is
 * back. Pure: the clock is injected. Buckets live in memory only (per exchange object): a bucket
 * lost when its object hibernates or restarts comes back full, so a limit can reset early but
 * never refuses more than configured. Used by the ExchangeDO (WebSocket requests); reusable for
 * HTTP requests.
 */

export interface RateLimit {
  /** Tokens added per second. */
  perSecond: number;
  /** Bucket capacity: the most requests allowed at once after a quiet period. */
  burst: number;
}

export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly limit: RateLimit,
    now: number,
  ) {
    this.tokens = limit.burst;
    this.updatedAt = now;
  }

  /** Takes `count` tokens when there are enough; otherwise takes none and returns false. */
  take(now: number, count = 1): boolean {
    this.refill(now);
    if (this.tokens < count) return false;
    this.tokens -= count;
    return true;
  }

  /** Milliseconds until `count` tokens are available (0 when they are now). */
  retryAfterMs(now: number, count = 1): number {
    this.refill(now);
    const missing = count - this.tokens;
    return missing <= 0 ? 0 : Math.ceil((missing * 1000) / this.limit.perSecond);
  }

  /** Whether the bucket is back to capacity (it can be forgotten: a new one starts full). */
  isFull(now: number): boolean {
    this.refill(now);
    return this.tokens >= this.limit.burst;
  }

  private refill(now: number): void {
    const elapsed = Math.max(0, now - this.updatedAt);
    this.tokens = Math.min(this.limit.burst, this.tokens + (elapsed * this.limit.perSecond) / 1000);
    this.updatedAt = Math.max(this.updatedAt, now);
  }
}

export type RateDecision = { ok: true } | { ok: false; retryAfterMs: number };

/** Most buckets kept before full ones are forgotten (a forgotten bucket restarts full). */
export const MAX_BUCKETS = 10_000;

/** One bucket per key (an identity), created full on first use. */
export class RateLimiter {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly limit: RateLimit,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Takes `count` tokens (one by default) from `key`'s bucket. */
  take(key: string, count = 1): RateDecision {
    const now = this.clock();
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      this.forgetFull(now);
      bucket = new TokenBucket(this.limit, now);
      this.buckets.set(key, bucket);
    }
    if (bucket.take(now, count)) return { ok: true };
    return { ok: false, retryAfterMs: bucket.retryAfterMs(now, count) };
  }

  /** Buckets held now (for tests and logs). */
  get size(): number {
    return this.buckets.size;
  }

  private forgetFull(now: number): void {
    if (this.buckets.size < MAX_BUCKETS) return;
    for (const [key, bucket] of this.buckets) if (bucket.isFull(now)) this.buckets.delete(key);
    // Still too many busy keys: forget the oldest; they restart full (documented leniency).
    for (const key of this.buckets.keys()) {
      if (this.buckets.size < MAX_BUCKETS) break;
      this.buckets.delete(key);
    }
  }
}

/**
 * The budget of acks an identity may have applied to the exchange's stored outbox (each is a
 * delete): ten per request it may send, so a client acking its own outcomes never meets it, while
 * a flood of acks cannot keep the shared exchange busy. Acks over it are dropped: their outcomes
 * are only sent again on the next reconnect, and acked then.
 */
export function ackLimit(limit: RateLimit): RateLimit {
  return { perSecond: limit.perSecond * 10, burst: limit.burst * 100 };
}

/** The message of a `rate_limited` error, with a retry hint. */
export function rateLimitedMessage(retryAfterMs: number): string {
  return `rate limit exceeded for this identity; retry after ${retryAfterMs} ms`;
}
