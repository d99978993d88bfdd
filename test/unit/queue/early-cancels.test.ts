import { describe, expect, it } from "vitest";
import {
  EARLY_CANCEL_MS,
  EarlyCancels,
  MAX_EARLY_CANCELS,
} from "../../../durable-objects/queue/early-cancels.js";

describe("EarlyCancels", () => {
  it("tells a request, and each re-send of it, that its client cancelled it first, per identity", () => {
    const early = new EarlyCancels();
    early.remember("alice", "r1", 0);
    expect(early.cancelled("bob", "r1", 10)).toBe(false);
    expect(early.cancelled("alice", "r1", 10)).toBe(true);
    expect(early.cancelled("alice", "r1", 20)).toBe(true);
    expect(early.cancelled("alice", "r2", 20)).toBe(false);
  });

  it("forgets a cancel after EARLY_CANCEL_MS", () => {
    const early = new EarlyCancels();
    early.remember("alice", "r1", 0);
    expect(early.cancelled("alice", "r1", EARLY_CANCEL_MS)).toBe(false);
    early.remember("alice", "r2", 0);
    early.remember("alice", "r3", EARLY_CANCEL_MS + 1);
    expect(early.size).toBe(1);
  });

  it("holds at most MAX_EARLY_CANCELS, forgetting the oldest first", () => {
    const early = new EarlyCancels();
    for (let i = 0; i <= MAX_EARLY_CANCELS; i++) early.remember("alice", `r${i}`, 0);
    expect(early.size).toBe(MAX_EARLY_CANCELS);
    expect(early.cancelled("alice", "r0", 1)).toBe(false);
    expect(early.cancelled("alice", `r${MAX_EARLY_CANCELS}`, 1)).toBe(true);
  });
});
