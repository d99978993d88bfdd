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

  it("reads back an attachment carrying the token's roles, queues and expiry", () => {
    const principal = { roles: ["client" as const], queues: ["resize"], expiresAt: 5 };
    const attachment = newAttachment("alice", "c-1", principal);
    expect(readAttachment(structuredClone(attachment))).toEqual(attachment);
  });

  it("reads back an attachment carrying a replay cursor, and refuses a malformed one", () => {
    const attachment = newAttachment("alice", "c-1");
    attachment.replay = { after: 1_795_989_819_570_005, outstanding: 988, page: 1_000 };
    expect(readAttachment(structuredClone(attachment))).toEqual(attachment);
    expect(readAttachment({ ...attachment, replay: { after: "7" } })).toBeUndefined();
  });

  it("still reads an attachment written before tokens, with no principal", () => {
    expect(readAttachment({ v: 1, connId: "c", identity: "alice" })).toEqual({
      v: 1,
      connId: "c",
      identity: "alice",
    });
  });

  it.each([
    ["a malformed principal", { v: 1, connId: "c", identity: "alice", principal: { roles: [] } }],
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
