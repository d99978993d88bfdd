import { describe, expect, it } from "vitest";
import {
  identityTag,
  newAttachment,
  readAttachment,
} from "../../../durable-objects/exchange/client-attachment.js";

describe("client attachment", () => {
  it("reads back an attachment it wrote", () => {
    const attachment = newAttachment("alice", "c-1");
    expect(readAttachment(structuredClone(attachment))).toEqual(attachment);
  });

  it.each([
    ["null", null],
    ["another version", { v: 2, connId: "c", identity: "alice" }],
    ["an empty connection id", { v: 1, connId: "", identity: "alice" }],
    ["an invalid identity", { v: 1, connId: "c", identity: "a b" }],
    ["an array", [1, "c", "alice"]],
  ])("refuses %s", (_label, value) => {
    expect(readAttachment(value)).toBeUndefined();
  });

  it("tags sockets by identity within the 256-character tag limit", () => {
    expect(identityTag("alice")).toBe("id:alice");
    expect(identityTag("x".repeat(128)).length).toBeLessThanOrEqual(256);
  });
});
