/** The relay's dispatch ids (dispatch-id.ts): padded past V8's interning length, read back. */
import { describe, expect, it } from "vitest";
import { dispatchId, ridOf } from "../../../durable-objects/queue/dispatch-id.js";

describe("dispatch ids", () => {
  it("are the row id in decimal, zero-padded to 12 digits, and read back to it", () => {
    expect(dispatchId(1042)).toBe("000000001042");
    expect(dispatchId(1042).length).toBeGreaterThan(10);
    expect(ridOf(dispatchId(1042))).toBe(1042);
    expect(ridOf(dispatchId(2 ** 40))).toBe(2 ** 40);
  });

  it("reads unpadded ids too", () => {
    expect(ridOf("1042")).toBe(1042);
  });

  it("names no row for anything else", () => {
    for (const id of ["", "0", "000000000000", "-1", "1e3", "12a", " 1", "12345678901234567"]) {
      expect(ridOf(id)).toBeUndefined();
    }
  });
});
