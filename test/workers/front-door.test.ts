/** The Hono front door in workerd: routes, typed errors, identity rules and header hygiene. */
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { PROTOCOL_VERSION, signToken } from "../../protocol/index.js";
import { app } from "../../src/app.js";
import { TestSocket } from "./exchange-test-socket.js";

const upgrade = { Upgrade: "websocket" };

function get(path: string, headers: Record<string, string> = {}): Promise<Response> {
  return exports.default.fetch(`https://relay.test${path}`, { headers });
}

async function expectError(response: Response, status: number, code: string): Promise<void> {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toContain("application/json");
  const body: unknown = await response.json();
  expect(body).toEqual({ error: { code, message: expect.any(String) } });
}

describe("front door", () => {
  it("answers /healthz with ok and the protocol version", async () => {
    const response = await get("/healthz");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true, protocol: PROTOCOL_VERSION });
  });

  it("answers a known path asked with another method with 405, Allow and a typed error", async () => {
    for (const [method, path, allow] of [
      ["GET", "/v1/queues/echo/requests", "POST"],
      ["POST", "/v1/whoami", "GET, HEAD"],
      ["PUT", "/v1/requests/r1", "GET, HEAD, DELETE"],
      ["GET", "/v1/queues/echo/take", "POST"],
    ] as const) {
      const response = await app.request(path, { method }, env);
      expect(response.status, `${method} ${path}`).toBe(405);
      expect(response.headers.get("Allow")).toBe(allow);
      expect(await response.json()).toEqual({
        error: { code: "bad_request", message: expect.stringContaining(`use ${allow}`) },
      });
    }
  });

  it("refuses a query parameter the route does not read, rather than ignore a typo", async () => {
    const headers = { "EdgeMQ-Identity": "alice" };
    const post = (query: string) =>
      app.request(`/v1/queues/echo/requests${query}`, { method: "POST", headers, body: "x" }, env);
    const typo = await post("?failfast=true");
    expect(typo.status).toBe(400);
    expect(await typo.json()).toEqual({
      error: {
        code: "bad_request",
        message: expect.stringMatching(
          /^unknown query parameter failfast \(did you mean failFast\?\)/,
        ),
      },
    });
    expect((await post("?asynch=true")).status).toBe(400);
    // /healthz takes anything a monitor adds.
    expect((await get("/healthz?cachebust=1")).status).toBe(200);
  });

  it("refuses a query parameter given twice, rather than take one of the values silently", async () => {
    const headers = { "EdgeMQ-Identity": "alice" };
    const post = (query: string) =>
      app.request(`/v1/queues/echo/requests${query}`, { method: "POST", headers, body: "x" }, env);
    // `failFast=true&failFast=false` ran as failFast, `timeout=1000&timeout=60000` with 1000.
    for (const query of [
      "?failFast=true&failFast=false",
      "?timeout=1000&timeout=60000",
      "?identity=alice&identity=bob",
    ]) {
      const response = await post(query);
      expect(response.status, query).toBe(400);
      expect(await response.json()).toEqual({
        error: { code: "bad_request", message: expect.stringMatching(/given 2 times/) },
      });
    }
    // Upgrade routes read their parameters the same way.
    const serve = await get("/v1/queues/jobs/serve?identity=w1&partition=0&partition=1", upgrade);
    await expectError(serve, 400, "bad_request");
  });

  it("answers an unknown route with a typed 404 not_found", async () => {
    await expectError(await get("/v2/nothing"), 404, "not_found");
  });

  it("answers a plain GET on /v1/connect with 426 and bad_request", async () => {
    await expectError(await get("/v1/connect?identity=alice"), 426, "bad_request");
  });

  it("answers a plain GET on a queue's serve route with 426 and bad_request", async () => {
    await expectError(await get("/v1/queues/jobs/serve?identity=w1"), 426, "bad_request");
  });

  it.each([
    ["an encoded path traversal", "..%2F..%2Fsecret"],
    ["unicode", "%C3%A9t%C3%A9"],
    ["a space", "a%20b"],
    ["a name over 128 characters", "q".repeat(129)],
  ])("refuses a queue name with %s with 400 bad_request", async (_label, queue) => {
    const response = await get(`/v1/queues/${queue}/serve?identity=w1`, upgrade);
    await expectError(response, 400, "bad_request");
  });

  it("refuses a connection that declares no identity with 401 unauthorized", async () => {
    const response = await get("/v1/connect", upgrade);
    expect(response.status).toBe(401);
    // Also what an SDK peer's connect() rejects with: it names the option, not only the wire's.
    const { error } = (await response.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe("unauthorized");
    expect(error.message).toContain("EdgeMQ-Identity header or ?identity=");
    expect(error.message).toContain("connect(url, { identity })");
  });

  it("refuses an invalid identity with 400 bad_request", async () => {
    await expectError(await get("/v1/connect?identity=a%2Fb", upgrade), 400, "bad_request");
  });

  it("says, of a ?identity= whose + was read as a space, to write it %2B", async () => {
    // The rule allows +, yet a query's + is a space: ?identity=a+b names "a b".
    const response = await get("/v1/connect?identity=worker+1", upgrade);
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      error: {
        code: "bad_request",
        message: expect.stringContaining("a + in a query reads as a space: write it %2B"),
      },
    });
    const whoami = await get("/v1/whoami?identity=worker%2B1");
    expect(await whoami.json()).toMatchObject({ identity: "worker+1" });
    const other = await (await get("/v1/connect?identity=a%20b/c", upgrade)).json();
    expect(other).toEqual({
      error: { code: "bad_request", message: expect.not.stringContaining("%2B") },
    });
  });

  it("refuses an identity sent only as X-EdgeMQ-Identity, since peers cannot set it", async () => {
    const response = await get("/v1/connect", { ...upgrade, "X-EdgeMQ-Identity": "mallory" });
    await expectError(response, 401, "unauthorized");
  });

  it("replaces a spoofed X-EdgeMQ-Identity header with the established identity", async () => {
    const socket = await TestSocket.open("/v1/connect?identity=alice", {
      "X-EdgeMQ-Identity": "mallory",
    });
    expect(await socket.next()).toMatchObject({ type: "welcome", identity: "alice" });
    socket.close();
  });

  it("takes the declared identity from the EdgeMQ-Identity header", async () => {
    const socket = await TestSocket.open("/v1/connect", { "EdgeMQ-Identity": "header-peer" });
    expect(await socket.next()).toMatchObject({ type: "welcome", identity: "header-peer" });
    socket.close();
  });

  it("fails closed with 401 when not in dev mode and no EDGEMQ_SECRET is configured", async () => {
    const bindings = { QUEUE: env.QUEUE, EXCHANGE: env.EXCHANGE };
    const response = await app.request(
      "/v1/connect?identity=alice",
      { headers: upgrade },
      bindings,
    );
    await expectError(response, 401, "unauthorized");
    // ... and fails its health check, saying why, so a deployment without its secret shows.
    const health = await app.request("/healthz", {}, bindings);
    expect(health.status).toBe(503);
    expect(await health.json()).toEqual({
      ok: false,
      protocol: PROTOCOL_VERSION,
      error: expect.stringMatching(/^relay has no EDGEMQ_SECRET configured/),
    });
    const signed = { ...bindings, EDGEMQ_SECRET: "front-door-test-secret-0123456789abcdef" };
    expect((await app.request("/healthz", {}, signed)).status).toBe(200);
  });

  it("refuses a peer that presents no token with 401 when a secret is configured", async () => {
    const bindings = {
      QUEUE: env.QUEUE,
      EXCHANGE: env.EXCHANGE,
      EDGEMQ_SECRET: "front-door-test-secret-0123456789abcdef",
    };
    const response = await app.request(
      "/v1/connect?identity=alice",
      { headers: upgrade },
      bindings,
    );
    expect(response.status).toBe(401);
    const { error } = (await response.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe("unauthorized");
    expect(error.message).toMatch(/^a token is required: Authorization: Bearer <token>/);
    expect(error.message).toContain("connect(url, { token })");
  });

  it("reads a Bearer token with whitespace after it, and names the form it wants for another Authorization", async () => {
    const secret = "front-door-test-secret-0123456789abcdef";
    const bindings = { QUEUE: env.QUEUE, EXCHANGE: env.EXCHANGE, EDGEMQ_SECRET: secret };
    const exp = Math.floor(Date.now() / 1000) + 600;
    const token = await signToken({ sub: "alice", role: "client", queues: ["q"], exp }, secret);
    // A header built from a file or a template may keep a trailing space (curl and workerd keep it).
    const padded = await app.request(
      "/v1/whoami",
      { headers: { Authorization: `Bearer ${token}  ` } },
      bindings,
    );
    expect(padded.status).toBe(200);
    expect(await padded.json()).toMatchObject({ identity: "alice" });
    for (const authorization of [`Token ${token}`, "Bearer", `Bearer ${token} extra`]) {
      const refused = await app.request(
        "/v1/whoami",
        { headers: { Authorization: authorization } },
        bindings,
      );
      expect(refused.status).toBe(401);
      const { error } = (await refused.json()) as { error: { code: string; message: string } };
      expect(error).toEqual({
        code: "unauthorized",
        message: "Authorization must be Bearer followed by the token alone",
      });
      expect(refused.headers.get("WWW-Authenticate")).toContain('error="invalid_token"');
    }
  });

  it("lets the secret win over dev mode: a declared identity with no token is refused 401", async () => {
    const bindings = {
      QUEUE: env.QUEUE,
      EXCHANGE: env.EXCHANGE,
      EDGEMQ_SECRET: "front-door-test-secret-0123456789abcdef",
      EDGEMQ_DEV_MODE: "true",
    };
    for (const declared of [
      { path: "/v1/connect?identity=alice", headers: upgrade },
      { path: "/v1/connect", headers: { ...upgrade, "EdgeMQ-Identity": "alice" } },
      { path: "/v1/whoami?identity=alice", headers: {} },
    ]) {
      const response = await app.request(declared.path, { headers: declared.headers }, bindings);
      await expectError(response, 401, "unauthorized");
    }
  });

  it("serves the queue named in the path, not a spoofed X-EdgeMQ-Queue header", async () => {
    const socket = await TestSocket.open("/v1/queues/real-queue/serve?identity=w1", {
      "X-EdgeMQ-Queue": "other-queue",
    });
    expect(await socket.next()).toMatchObject({
      type: "welcome",
      role: "server",
      queue: "real-queue",
    });
    socket.close();
  });

  it("answers an unexpected fault with 500 internal and no details", async () => {
    const response = await app.request(
      "/v1/connect?identity=alice",
      { headers: upgrade },
      { EDGEMQ_DEV_MODE: "true" },
    );
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({
      error: { code: "internal", message: "internal error" },
    });
  });
});
