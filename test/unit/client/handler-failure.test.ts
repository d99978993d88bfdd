/**
 * What a failed handler's requester is told (handler-failure.ts): the error's message, cut to
 * what the relay keeps without splitting a character, on either transport.
 */
import { describe, expect, it } from "vitest";
import { failureMessage } from "../../../client/handler-failure.js";

describe("failureMessage", () => {
  it("is the thrown error's message, or the thrown string", () => {
    expect(failureMessage(new Error("disk full"))).toBe("disk full");
    expect(failureMessage("no such user")).toBe("no such user");
  });

  it("says the handler failed when nothing says why", () => {
    expect(failureMessage(new Error(""))).toBe("handler failed");
    expect(failureMessage(42)).toBe("handler failed");
  });

  it("is cut to 4,096 characters, never inside a character outside the BMP", () => {
    expect(failureMessage(new Error("m".repeat(5000)))).toBe("m".repeat(4096));
    const split = failureMessage(new Error(`${"m".repeat(4095)}😀 and more`));
    expect(split).toBe("m".repeat(4095));
  });
});
