/** The per-socket budget of frames the relay could not read (unreadable-frames.ts). */
import { describe, expect, it } from "vitest";
import { UnreadableFrames } from "../../../durable-objects/shared/unreadable-frames.js";

describe("UnreadableFrames", () => {
  it("allows a burst, then what refills each second, per socket", () => {
    const budget = new UnreadableFrames<object>({ burst: 10, perSecond: 2 });
    const a = {};
    const b = {};
    expect(budget.exceeded(a, 6, 0)).toBe(false);
    expect(budget.exceeded(a, 4, 0)).toBe(false);
    expect(budget.exceeded(a, 1, 0)).toBe(true);
    // Another socket has its own budget.
    expect(budget.exceeded(b, 10, 0)).toBe(false);
    // A second later, two more are allowed, not three.
    expect(budget.exceeded(a, 2, 1_000)).toBe(false);
    expect(budget.exceeded(a, 1, 1_000)).toBe(true);
  });

  it("counts nothing for a message with no unreadable frame, even past the budget", () => {
    const budget = new UnreadableFrames<object>({ burst: 1, perSecond: 1 });
    const socket = {};
    expect(budget.exceeded(socket, 2, 0)).toBe(true);
    expect(budget.exceeded(socket, 0, 0)).toBe(false);
  });
});
