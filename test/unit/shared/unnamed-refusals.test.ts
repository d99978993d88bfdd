import { describe, expect, it } from "vitest";
import { collapseUnnamed } from "../../../durable-objects/shared/unnamed-refusals.js";
import type { ErrorFrame } from "../../../protocol/index.js";

const bad = (message: string, id?: string): ErrorFrame =>
  id === undefined
    ? { type: "error", code: "bad_request", message }
    : { type: "error", id, code: "bad_request", message };

describe("collapseUnnamed", () => {
  it("sends the refusals of 1,000 frames that name no request as one frame, counting them", () => {
    const errors = Array.from({ length: 1_000 }, (_, i) => bad(`junk ${i}`));
    expect(collapseUnnamed(errors)).toEqual([
      bad("1000 frames of this message were refused; the first: junk 0"),
    ]);
  });

  it("keeps every refusal that names a request, and a lone unnamed one as it is", () => {
    const errors = [bad("a", "r1"), bad("lone"), bad("b", "r2")];
    expect(collapseUnnamed(errors)).toEqual(errors);
    const mixed = [bad("x"), bad("a", "r1"), bad("y")];
    expect(collapseUnnamed(mixed)).toEqual([
      bad("a", "r1"),
      bad("2 frames of this message were refused; the first: x"),
    ]);
  });
});
