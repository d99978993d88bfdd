/** The principal forwarded from the front door to the objects, and stored on their sockets. */
import { describe, expect, it } from "vitest";
import {
  decodePrincipalHeader,
  devPrincipal,
  encodePrincipalHeader,
  forwardedPrincipal,
  readStoredPrincipal,
  storePrincipal,
} from "../../../durable-objects/shared/principal-header.js";
import type { Principal } from "../../../protocol/index.js";

const alice: Principal = {
  identity: "alice",
  roles: new Set(["client"]),
  queues: ["resize", "img.*"],
  expiresAt: 1_800_000_000_000,
};

describe("principal header", () => {
  it("round-trips identity, roles, queues and expiry", () => {
    expect(decodePrincipalHeader(encodePrincipalHeader(alice))).toEqual(alice);
  });

  it.each([
    ["absent", null],
    ["not JSON", "{"],
    ["an invalid identity", JSON.stringify({ ...storePrincipal(alice), identity: "a b" })],
    [
      "an unknown role",
      JSON.stringify({ identity: "a", roles: ["admin"], queues: [], expiresAt: 1 }),
    ],
    ["no roles", JSON.stringify({ identity: "a", roles: [], queues: [], expiresAt: 1 })],
    [
      "queues that are not strings",
      JSON.stringify({ identity: "a", roles: ["client"], queues: [1], expiresAt: 1 }),
    ],
    [
      "more than 100 queue patterns",
      JSON.stringify({
        identity: "a",
        roles: ["client"],
        queues: Array(101).fill("q"),
        expiresAt: 1,
      }),
    ],
    ["no expiry", JSON.stringify({ identity: "a", roles: ["client"], queues: [] })],
  ])("refuses a header that is %s", (_label, value) => {
    expect(decodePrincipalHeader(value)).toBeUndefined();
  });

  it("refuses a header naming another identity than the forwarded one", () => {
    expect(forwardedPrincipal(encodePrincipalHeader(alice), "mallory", false)).toBeUndefined();
    expect(forwardedPrincipal(encodePrincipalHeader(alice), "alice", false)).toEqual(alice);
  });

  it("falls back to a dev principal without the header in dev mode only", () => {
    expect(forwardedPrincipal(null, "bob", true)).toEqual(devPrincipal("bob"));
    expect(forwardedPrincipal(null, "bob", false)).toBeUndefined();
  });

  it("stores plain data that survives structured cloning", () => {
    const stored = storePrincipal(alice);
    expect(readStoredPrincipal(structuredClone(stored))).toEqual(stored);
  });
});
