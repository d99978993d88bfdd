/**
 * Fail closed, and say nothing internal: a deployment with neither a secret nor dev mode refuses
 * every peer with a clear 401; error bodies never carry stack traces or internal details.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../../src/env.js";
import { call, errorBody, mint, upgrade } from "./signed-relay.js";

const noSecret: Env = { QUEUE: env.QUEUE, EXCHANGE: env.EXCHANGE };

describe("fail closed", () => {
  it.each([
    ["a client", "/v1/connect?identity=alice"],
    ["a server", "/v1/queues/jobs/serve?identity=worker"],
  ])(
    "refuses %s with 401 and names the missing secret when no secret and no dev mode are set",
    async (_peer, path) => {
      const response = await call(path, { Upgrade: "websocket" }, noSecret);
      expect(response.status).toBe(401);
      const error = await errorBody(response);
      expect(error.code).toBe("unauthorized");
      expect(error.message).toContain("EDGEMQ_SECRET");
    },
  );

  it("refuses a valid-looking token too when the relay has no secret", async () => {
    const token = await mint({ sub: "alice", role: "client", queues: ["q"] });
    const response = await call(
      "/v1/connect",
      { Upgrade: "websocket", Authorization: `Bearer ${token}` },
      noSecret,
    );
    expect(response.status).toBe(401);
  });
});

describe("error bodies", () => {
  it("answer an internal fault with code internal and the bare message, no stack or cause", async () => {
    const secret = "x".repeat(32);
    const token = await mint({ sub: "alice", role: "client", queues: ["q"] }, secret);
    const response = await call(
      "/v1/connect",
      { Upgrade: "websocket", Authorization: `Bearer ${token}` },
      { QUEUE: env.QUEUE, EXCHANGE: brokenNamespace(), EDGEMQ_SECRET: secret },
    );
    expect(response.status).toBe(500);
    expect(await errorBody(response)).toEqual({ code: "internal", message: "internal error" });
  });

  it.each([
    ["a garbage token", "Bearer not.a.jwt"],
    ["a malformed authorization header", "Basic abc"],
  ])("answer %s with a short typed error and no internals", async (_label, authorization) => {
    const response = await call("/v1/connect", {
      Upgrade: "websocket",
      Authorization: authorization,
    });
    expect(response.status).toBe(401);
    const error = await errorBody(response);
    expect(error.code).toBe("unauthorized");
    expect(error.message.length).toBeLessThan(200);
  });

  it("carry a bearer challenge on every 401 (RFC 9110), invalid_token when a token was refused", async () => {
    const without = await call("/v1/whoami", {});
    expect(without.status).toBe(401);
    expect(without.headers.get("WWW-Authenticate")).toBe('Bearer realm="edgemq"');
    const refused = await call("/v1/whoami", { Authorization: "Bearer not.a.jwt" });
    expect(refused.status).toBe(401);
    expect(refused.headers.get("WWW-Authenticate")).toBe(
      'Bearer realm="edgemq", error="invalid_token"',
    );
    const forbidden = await upgrade(
      "/v1/queues/theirs/serve",
      await mint({ sub: "s", role: "server", queues: ["mine"] }),
    );
    expect(forbidden.status).toBe(403);
    expect(forbidden.headers.get("WWW-Authenticate")).toBeNull();
  });

  it("answer a refused queue with a message that names the queue and nothing else", async () => {
    const token = await mint({ sub: "srv", role: "server", queues: ["mine"] });
    const response = await upgrade("/v1/queues/theirs/serve", token);
    expect(await errorBody(response)).toEqual({
      code: "forbidden",
      message: "this token does not allow queue theirs",
    });
  });
});

/** An EXCHANGE binding whose every use throws, standing in for an internal fault. */
function brokenNamespace(): Env["EXCHANGE"] {
  return new Proxy(env.EXCHANGE, {
    get() {
      throw new Error("binding exploded at secret/internal/path.ts:42");
    },
  });
}
