/**
 * A relay with settings it cannot read refuses every call, naming each such setting, instead of
 * running on defaults the operator did not choose; /healthz says so with 503. The values, and
 * what is wrong with them, go to the log only.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { PROTOCOL_VERSION } from "../../protocol/index.js";
import { app } from "../../src/app.js";

const misconfigured = {
  ...env,
  EDGEMQ_MAX_BODY_BYTES: "-5",
  EDGEMQ_QUEUE_MODES: "cache-*=memroy",
};

const MISREAD = ["EDGEMQ_MAX_BODY_BYTES", "EDGEMQ_QUEUE_MODES"];

async function call(path: string, init: RequestInit = {}): Promise<Response> {
  return await app.fetch(new Request(`https://relay.test${path}`, init), misconfigured);
}

describe("a relay with unreadable settings", () => {
  it("answers /healthz with 503 and the name of every setting it cannot read", async () => {
    const response = await call("/healthz");
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({
      ok: false,
      protocol: PROTOCOL_VERSION,
      misread: MISREAD,
    });
  });

  it("logs each value and what is wrong with it, once", async () => {
    const logged: unknown[] = [];
    const error = vi.spyOn(console, "error").mockImplementation((line) => logged.push(line));
    const quiet = { ...misconfigured, EDGEMQ_MAX_ATTEMPTS: "lots" };
    try {
      for (let i = 0; i < 3; i++) {
        await app.fetch(new Request("https://relay.test/healthz"), quiet);
      }
    } finally {
      error.mockRestore();
    }
    expect(logged.map((line) => JSON.parse(String(line)))).toEqual([
      {
        evt: "settings_invalid",
        problems: [
          'EDGEMQ_MAX_BODY_BYTES="-5" is not a positive whole number',
          'EDGEMQ_MAX_ATTEMPTS="lots" is not a positive whole number',
          'EDGEMQ_QUEUE_MODES entry "cache-*=memroy" is not <queue or prefix*>=memory|durable',
        ],
      },
    ]);
  });

  it("refuses HTTP calls and WebSocket upgrades with 500 internal naming each setting, not its value", async () => {
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
      for (const name of MISREAD) expect(body.error.message).toContain(name);
      expect(body.error.message).not.toContain("-5");
      expect(body.error.message).not.toContain("memroy");
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
