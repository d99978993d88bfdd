/** Bodies that JSON escaping takes past the frame size, and the head of a message too large to parse. */
import { describe, expect, it } from "vitest";
import {
  bodyFrameRefusal,
  DEFAULT_LIMITS,
  frameHead,
  maxFrameChars,
} from "../../../protocol/index.js";

const limits = DEFAULT_LIMITS;
const near = limits.maxBodyBytes - 1_000;

describe("bodyFrameRefusal", () => {
  it("lets through a body at the limit whose characters need no escaping, in every encoding", () => {
    expect(bodyFrameRefusal({ enc: "utf8", data: "x".repeat(near) }, limits)).toBeUndefined();
    expect(
      bodyFrameRefusal({ enc: "json", data: `"${"x".repeat(near)}"` }, limits),
    ).toBeUndefined();
    const base64 = "A".repeat(Math.floor((near * 4) / 3 / 4) * 4);
    expect(bodyFrameRefusal({ enc: "base64", data: base64 }, limits)).toBeUndefined();
  });

  it("refuses a body within the byte limit that escaping takes past the frame size, saying why", () => {
    const quotes = bodyFrameRefusal({ enc: "utf8", data: '"'.repeat(near) }, limits);
    expect(quotes).toContain("escaped as JSON");
    const controls = bodyFrameRefusal({ enc: "utf8", data: "\u0001".repeat(300_000) }, limits);
    expect(controls).toContain("send it as bytes");
    // A sixth of the frame's worth of control characters still fits.
    const sixth = Math.floor((maxFrameChars(limits) - 6 * limits.maxHeaderBytes) / 6) - 16 * 1024;
    expect(bodyFrameRefusal({ enc: "utf8", data: "\u0001".repeat(sixth) }, limits)).toBeUndefined();
  });
});

describe("frameHead", () => {
  it("reads the type and id a frame starts with", () => {
    expect(frameHead('{"type":"request","id":"r-1","queue":"q","body":')).toEqual({
      type: "request",
      id: "r-1",
    });
    expect(frameHead(' { "type" : "reply" , "id" : "d1.2" , "body": {')).toEqual({
      type: "reply",
      id: "d1.2",
    });
  });

  it("reads nothing from a message that does not start that way or names no valid id", () => {
    expect(frameHead('{"id":"r-1","type":"request"}')).toBeUndefined();
    expect(frameHead('[{"type":"request","id":"r-1"}]')).toBeUndefined();
    expect(frameHead(`{"type":"request","id":"${"x".repeat(129)}"}`)).toBeUndefined();
    expect(frameHead('{"type":"request","id":""}')).toBeUndefined();
    expect(frameHead("not json at all")).toBeUndefined();
  });
});
