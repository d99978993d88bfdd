/** `edgemq token --ttl` durations. */
import { describe, expect, it } from "vitest";
import { parseTtl } from "../../../cli/ttl.js";

describe("parseTtl", () => {
  it("reads seconds, minutes, hours and days", () => {
    expect(parseTtl("90s")).toBe(90);
    expect(parseTtl("15m")).toBe(900);
    expect(parseTtl("1h")).toBe(3600);
    expect(parseTtl("7d")).toBe(604800);
  });

  it("rejects durations without a unit, with a bad unit or a negative sign", () => {
    for (const bad of ["", "10", "1w", "-1h", "1.5h", "h"]) expect(parseTtl(bad)).toBeUndefined();
  });

  it("rejects every zero duration, whose token would expire as it is issued", () => {
    for (const zero of ["0s", "0m", "0h", "0d", "000s"]) expect(parseTtl(zero)).toBeUndefined();
  });
});
