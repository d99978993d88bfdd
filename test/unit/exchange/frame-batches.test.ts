import { describe, expect, it } from "vitest";
import { packFrames } from "../../../durable-objects/exchange/frame-batches.js";

describe("packFrames", () => {
  it("sends a single frame bare, not as an array", () => {
    expect(packFrames(['{"type":"ack","ids":[]}'])).toEqual(['{"type":"ack","ids":[]}']);
  });

  it("joins several frames into one JSON array message", () => {
    const messages = packFrames(['{"a":1}', '{"b":2}']);
    expect(messages).toEqual(['[{"a":1},{"b":2}]']);
    expect(JSON.parse(messages[0] ?? "")).toEqual([{ a: 1 }, { b: 2 }]);
  });

  it("starts a new message when the frame count limit is reached", () => {
    const messages = packFrames(["1", "2", "3", "4", "5"], 2);
    expect(messages).toEqual(["[1,2]", "[3,4]", "5"]);
  });

  it("starts a new message when the character budget would be exceeded", () => {
    const messages = packFrames(['"aaaa"', '"bbbb"', '"cccc"'], 100, 15);
    expect(messages).toEqual(['["aaaa","bbbb"]', '"cccc"']);
  });

  it("sends a frame larger than the budget alone rather than dropping it", () => {
    const big = `"${"x".repeat(50)}"`;
    expect(packFrames(['"a"', big, '"b"'], 100, 10)).toEqual(['"a"', big, '"b"']);
  });

  it("produces no message for no frames", () => {
    expect(packFrames([])).toEqual([]);
  });
});
