/**
 * Hostile and malformed input to the HTTP API in workerd: each gets its typed JSON error (bad
 * JSON 400, oversized bodies 413 whether declared or streamed, bad queue names and ids 400, bad
 * wait/timeout/flag values 400, no identity 401, wrong role or queue 403), and the relay keeps
 * serving other peers afterwards.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS, signToken, type TokenClaims } from "../../protocol/index.js";
import { app } from "../../src/app.js";
import type { Env } from "../../src/env.js";
import { expectError, field, http, wsServer } from "./http-test-peer.js";

const MAX = DEFAULT_LIMITS.maxBodyBytes;

describe("HTTP API input checks", () => {
  it("refuses malformed JSON sent as application/json with 400 bad_request", async () => {
    const response = await http("/v1/queues/hh-json/requests", {
      identity: "h1",
      contentType: "application/json",
      body: '{"unclosed":',
    });
    await expectError(response, 400, "bad_request");
  });

  it("refuses a body whose Content-Length is over the limit with 413 too_large", async () => {
    const response = await http("/v1/queues/hh-big/requests", {
      identity: "h2",
      body: new Uint8Array(MAX + 1),
    });
    await expectError(response, 413, "too_large");
  });

  it("refuses a streamed body that grows past the limit with 413 too_large, after reading it to its end", async () => {
    const chunk = new Uint8Array(64 * 1024);
    const chunks = Math.ceil((MAX * 16) / chunk.byteLength);
    const seen = { sent: 0, cancelled: false };
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (seen.sent === chunks * chunk.byteLength) controller.close();
        else {
          seen.sent += chunk.byteLength;
          controller.enqueue(chunk);
        }
      },
      cancel() {
        seen.cancelled = true;
      },
    });
    const response = await http("/v1/queues/hh-stream/requests", { identity: "h3", body: stream });
    expect(response.status).toBe(413);
    // The whole body was read and dropped (http-body-reader.ts): a body cut off part-way breaks
    // wrangler dev's proxy for the next request. The refusal names the body's full size.
    expect(await response.json()).toEqual({
      error: {
        code: "too_large",
        message: `the body is ${chunks * chunk.byteLength} bytes, over the limit of ${MAX}`,
      },
    });
    expect(seen).toEqual({ sent: chunks * chunk.byteLength, cancelled: false });
  });

  it("refuses an oversized reply with 413 too_large", async () => {
    const response = await http("/v1/queues/hh-big/replies/1", {
      identity: "h2",
      body: new Uint8Array(MAX + 1),
    });
    await expectError(response, 413, "too_large");
  });

  it("refuses with 413 a text body within the limit that JSON escaping takes past one frame, and takes the same bytes as binary", async () => {
    // 400,000 control characters: 400 kB of text, 2.4 MB once each is escaped as \u0001.
    const text = "\u0001".repeat(400_000);
    const refused = await http("/v1/queues/hh-escape/requests?async=true", {
      identity: "h-escape",
      contentType: "text/plain",
      body: text,
    });
    await expectError(refused, 413, "too_large");
    const asBytes = await http("/v1/queues/hh-escape/requests?async=true", {
      identity: "h-escape",
      contentType: "application/octet-stream",
      body: new TextEncoder().encode(text),
    });
    expect(asBytes.status).toBe(202);
  });

  it("refuses a Content-Type longer than 256 characters with 400 bad_request", async () => {
    const response = await http("/v1/queues/hh-type/requests", {
      identity: "h4",
      contentType: `text/plain; x=${"a".repeat(300)}`,
      body: "x",
    });
    await expectError(response, 400, "bad_request");
  });

  const badQueues: [string, string][] = [
    ["an encoded slash", "a%2Fb"],
    ["unicode", "%C3%A9t%C3%A9"],
    ["a 10 kB name", "q".repeat(10_000)],
  ];
  for (const [label, queue] of badQueues) {
    it(`refuses a queue name with ${label} with 400 bad_request on every HTTP route`, async () => {
      for (const path of [
        `/v1/queues/${queue}/requests`,
        `/v1/queues/${queue}/take`,
        `/v1/queues/${queue}/replies/1`,
      ]) {
        await expectError(await http(path, { identity: "h5", body: "x" }), 400, "bad_request");
      }
    });
  }

  it("never lets a dot-dot segment name a queue: the URL resolves it away, a typed 404", async () => {
    for (const path of ["/v1/queues/%2E%2E/requests", "/v1/queues/../take"]) {
      await expectError(await http(path, { identity: "h5", body: "x" }), 404, "not_found");
    }
  });

  it("refuses a request id that is not an id with 400 bad_request", async () => {
    const long = "i".repeat(10_000);
    await expectError(
      await http(`/v1/requests/${long}`, { method: "GET", identity: "h6" }),
      400,
      "bad_request",
    );
    await expectError(
      await http("/v1/queues/hh-ids/replies/%C3%A9", { identity: "h6", body: "x" }),
      400,
      "bad_request",
    );
  });

  for (const wait of ["-1", "1.5", "abc", "1e3", "", " 5", "60001", "99999999999999999999"]) {
    it(`refuses wait=${JSON.stringify(wait)} with 400 bad_request`, async () => {
      const q = `wait=${encodeURIComponent(wait)}`;
      await expectError(
        await http(`/v1/queues/hh-wait/take?${q}`, { identity: "h7" }),
        400,
        "bad_request",
      );
      await expectError(
        await http(`/v1/requests/some-id?${q}`, { method: "GET", identity: "h7" }),
        400,
        "bad_request",
      );
    });
  }

  for (const timeout of ["0", "-5", "2.5", "soon", String(DEFAULT_LIMITS.maxTimeoutMs + 1)]) {
    it(`refuses timeout=${JSON.stringify(timeout)} with 400 bad_request`, async () => {
      const path = `/v1/queues/hh-timeout/requests?timeout=${encodeURIComponent(timeout)}`;
      await expectError(await http(path, { identity: "h8", body: "x" }), 400, "bad_request");
    });
  }

  it("refuses async=maybe with 400 bad_request", async () => {
    const response = await http("/v1/queues/hh-flag/requests?async=maybe", {
      identity: "h9",
      body: "x",
    });
    await expectError(response, 400, "bad_request");
  });

  it("refuses a request without an identity with 401 unauthorized", async () => {
    await expectError(
      await http("/v1/queues/hh-anon/requests", { body: "x" }),
      401,
      "unauthorized",
    );
    await expectError(await http("/v1/queues/hh-anon/take"), 401, "unauthorized");
  });

  it("keeps serving other peers after all of the above", async () => {
    const server = await wsServer("hh-after", "hh-worker");
    const pending = http("/v1/queues/hh-after/requests", {
      identity: "h10",
      contentType: "application/json",
      body: "[1,2]",
    });
    const dispatch = await server.next();
    server.send({ type: "reply", id: field(dispatch, "id"), body: { enc: "json", data: "[3]" } });
    expect(await (await pending).json()).toEqual([3]);
    server.close();
  });
});

describe("HTTP API roles and queues with signed tokens", () => {
  const SECRET = "http-api-test-secret-0123456789abcdef";
  const signedEnv: Env = { QUEUE: env.QUEUE, EXCHANGE: env.EXCHANGE, EDGEMQ_SECRET: SECRET };

  async function bearer(sub: string, role: TokenClaims["role"], queues: string[]) {
    const now = Math.floor(Date.now() / 1000);
    const token = await signToken({ sub, role, queues, iat: now, exp: now + 600 }, SECRET);
    return { Authorization: `Bearer ${token}` };
  }

  function post(path: string, headers: Record<string, string>): Promise<Response> {
    return Promise.resolve(app.request(path, { method: "POST", headers, body: "x" }, signedEnv));
  }

  it("refuses a server-only token on the client routes with 403 forbidden", async () => {
    const headers = await bearer("only-server", "server", ["*"]);
    await expectError(await post("/v1/queues/hs-roles/requests", headers), 403, "forbidden");
  });

  it("refuses a client-only token on take and replies with 403 forbidden", async () => {
    const headers = await bearer("only-client", "client", ["*"]);
    await expectError(await post("/v1/queues/hs-roles/take", headers), 403, "forbidden");
    await expectError(await post("/v1/queues/hs-roles/replies/1", headers), 403, "forbidden");
  });

  it("refuses a queue the token does not allow with 403 forbidden", async () => {
    const headers = await bearer("narrow", "both", ["billing.*"]);
    await expectError(await post("/v1/queues/hs-other/requests", headers), 403, "forbidden");
    await expectError(await post("/v1/queues/hs-other/take", headers), 403, "forbidden");
  });

  it("refuses a request with no token with 401 unauthorized", async () => {
    await expectError(await post("/v1/queues/hs-roles/requests", {}), 401, "unauthorized");
  });
});
