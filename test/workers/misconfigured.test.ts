/**
 * A relay with settings it cannot read refuses every call, naming each problem, instead of
 * running on defaults the operator did not choose; /healthz says so with 503.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { PROTOCOL_VERSION } from "../../protocol/index.js";
import { app } from "../../src/app.js";

const misconfigured = {
  ...env,
  EDGEMQ_MAX_BODY_BYTES: "-5",
  EDGEMQ_QUEUE_MODES: "cache-*=memroy",
};

const PROBLEMS = [
  'EDGEMQ_MAX_BODY_BYTES="-5" is not a positive whole number',
  'EDGEMQ_QUEUE_MODES entry "cache-*=memroy" is not <queue or prefix*>=memory|durable',
];

async function call(path: string, init: RequestInit = {}): Promise<Response> {
  return await app.fetch(new Request(`https://relay.test${path}`, init), misconfigured);
}

describe("a relay with unreadable settings", () => {
  it("answers /healthz with 503 and every problem", async () => {
    const response = await call("/healthz");
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({
      ok: false,
      protocol: PROTOCOL_VERSION,
      problems: PROBLEMS,
    });
  });

  it("refuses HTTP calls and WebSocket upgrades with 500 internal naming each problem", async () => {
    const headers = { "EdgeMQ-Identity": "alice" };
    const responses = [
      await call("/v1/whoami", { headers }),
      await call("/v1/queues/jobs/requests", { method: "POST", headers, body: "hi" }),
      await call("/v1/connect", { headers: { ...headers, Upgrade: "websocket" } }),
    ];
    for (const response of responses) {
      expect(response.status).toBe(500);
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe("internal");
      for (const problem of PROBLEMS) expect(body.error.message).toContain(problem);
    }
  });

  it("keeps CORS headers on the refusal, so a browser page can read why", async () => {
    const response = await call("/v1/whoami", {
      headers: { "EdgeMQ-Identity": "alice", Origin: "http://localhost:8080" },
    });
    expect(response.status).toBe(500);
    expect(response.headers.get("access-control-allow-origin")).not.toBeNull();
  });

  it("serves as usual once the settings read cleanly", async () => {
    const response = await app.fetch(new Request("https://relay.test/healthz"), env);
    expect(response.status).toBe(200);
  });
});
