/** The exchange's per-identity cap on held outcomes and its memory budgets (outbox-limits.ts). */
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
