/**
 * The exchange's per-identity cap on held outcomes (unacked, and over HTTP unread) and its memory
 * budgets (outbox-limits.ts).
 */
import { describe, expect, it } from "vitest";
import {
  addHeld,
  atCap,
  capMessage,
  fitsInMemory,
  MAX_HELD_BYTES,
  MAX_HELD_OUTCOMES,
  MEMORY_BYTES_PER_IDENTITY,
  MEMORY_BYTES_TOTAL,
  memoryCost,
} from "../../../durable-objects/exchange/outbox-limits.js";
import { DEFAULT_LIMITS } from "../../../protocol/index.js";

describe("the cap on unacked outcomes per identity", () => {
  it("is reached at MAX_HELD_OUTCOMES outcomes or MAX_HELD_BYTES bytes, whichever comes first", () => {
    expect(atCap({ count: MAX_HELD_OUTCOMES - 1, bytes: MAX_HELD_BYTES - 1 })).toBe(false);
    expect(atCap({ count: MAX_HELD_OUTCOMES, bytes: 0 })).toBe(true);
    expect(atCap({ count: 1, bytes: MAX_HELD_BYTES })).toBe(true);
  });

  it("counts both outboxes together", () => {
    const stored = { count: MAX_HELD_OUTCOMES - 10, bytes: 100 };
    const inMemory = { count: 10, bytes: 100 };
    expect(atCap(stored)).toBe(false);
    expect(atCap(addHeld(stored, inMemory))).toBe(true);
  });

  it("leaves room for ten times a queue's in-flight limit, so a client that acks never meets it", () => {
    expect(MAX_HELD_OUTCOMES).toBe(10 * DEFAULT_LIMITS.maxInFlightPerClient);
  });

  it("explains its refusal: outcomes wait for the client's acknowledgement", () => {
    const message = capMessage({ count: 10_000, bytes: 2_000 });
    expect(message).toContain("10000 outcomes");
    expect(message).toContain("acknowledgement");
    expect(message).not.toContain("unread");
  });

  it("counts an HTTP client's unread outcomes with its unacked ones, one budget per identity", () => {
    const unacked = { count: 10, bytes: MAX_HELD_BYTES / 2 };
    const unread = { count: 10, bytes: MAX_HELD_BYTES / 2 };
    expect(atCap(unacked)).toBe(false);
    expect(atCap(addHeld(unacked, unread))).toBe(true);
  });

  it("tells an HTTP client whose outcomes are unread how to read them, which releases them", () => {
    const message = capMessage({ count: 0, bytes: 0 }, { count: 32, bytes: MAX_HELD_BYTES });
    expect(message).toContain(`32 outcomes (${MAX_HELD_BYTES} bytes)`);
    expect(message).toContain("unread");
    expect(message).toContain("GET /v1/outcomes");
    expect(message).toContain("GET /v1/requests/{id}");
    expect(message).not.toContain("acknowledgement");
  });

  it("names both, and both ways to release them, when an identity holds unacked and unread outcomes", () => {
    const message = capMessage({ count: 6_000, bytes: 10 }, { count: 4_000, bytes: 20 });
    expect(message).toContain("10000 outcomes (30 bytes)");
    expect(message).toContain("6000 for its acknowledgement");
    expect(message).toContain("4000 of its HTTP requests unread");
    expect(message).toContain("acks or reads them");
    expect(message).toContain("GET /v1/outcomes");
  });

  it("fits the queue's 512 characters for a refusal it relays (enqueue.ts resendsOnly)", () => {
    const most = { count: 999_999_999, bytes: 999_999_999_999 };
    expect(capMessage(most, most).length).toBeLessThanOrEqual(512);
  });
});

describe("the memory budgets of memory-mode outcomes", () => {
  it("keeps an outcome in memory while the identity and the object both stay within budget", () => {
    const cost = memoryCost(1_000);
    expect(fitsInMemory(0, 0, cost)).toBe(true);
    expect(fitsInMemory(MEMORY_BYTES_PER_IDENTITY - cost, 0, cost)).toBe(true);
    expect(fitsInMemory(MEMORY_BYTES_PER_IDENTITY - cost + 1, 0, cost)).toBe(false);
    expect(fitsInMemory(0, MEMORY_BYTES_TOTAL - cost + 1, cost)).toBe(false);
  });

  it("charges each outcome for its entry, so tiny outcomes cannot fill memory unbounded", () => {
    expect(memoryCost(0)).toBeGreaterThan(0);
    expect(memoryCost(10)).toBe(memoryCost(0) + 10);
  });
});
