/**
 * CORS on the HTTP API: browser pages may call it (any origin with a token; in dev mode, pages of
 * this machine only); WebSocket upgrades pass untouched.
 */
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

/** A page of this machine: dev mode (these tests' relay) serves it. */
const ORIGIN = "http://localhost:5173";

function call(path: string, init: RequestInit = {}): Promise<Response> {
  return exports.default.fetch(`https://relay.test${path}`, init);
}

describe("CORS", () => {
  it("answers a preflight for the requests route with the methods and headers the SDK sends", async () => {
    const response = await call("/v1/queues/cors-q/requests", {
      method: "OPTIONS",
      headers: {
        Origin: ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type, edgemq-request-id",
      },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe("*");
    expect(response.headers.get("Access-Control-Allow-Methods")).toContain("POST");
    const allowed = (response.headers.get("Access-Control-Allow-Headers") ?? "").toLowerCase();
    for (const header of [
      "authorization",
      "content-type",
      "edgemq-identity",
      "edgemq-request-id",
    ]) {
      expect(allowed).toContain(header);
    }
  });

  it("lets a page send EdgeMQ-Poller on a POST and poll its outcomes", async () => {
    const preflight = await call("/v1/queues/cors-q/requests", {
      method: "OPTIONS",
      headers: {
        Origin: ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "edgemq-request-id, edgemq-poller",
      },
    });
    expect(preflight.status).toBe(204);
    const allowed = (preflight.headers.get("Access-Control-Allow-Headers") ?? "").toLowerCase();
    expect(allowed).toContain("edgemq-poller");
    const poll = await call("/v1/outcomes?identity=cors-poller&poller=tab-1", {
      headers: { Origin: ORIGIN },
    });
    expect(poll.status).toBe(200);
    expect(poll.headers.get("Access-Control-Allow-Origin")).toBe("*");
    expect(await poll.json()).toEqual({ outcomes: [], after: 0 });
  });

  it("lets a page read a typed error and the EdgeMQ headers of an answer", async () => {
    const response = await call("/v1/whoami", { headers: { Origin: ORIGIN } });
    expect(response.status).toBe(401);
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe("*");
    const exposed = response.headers.get("Access-Control-Expose-Headers") ?? "";
    expect(exposed).toContain("EdgeMQ-Request-Id");
    expect(await response.json()).toMatchObject({ error: { code: "unauthorized" } });
  });

  it("lets a page of any origin check /healthz, preflight included", async () => {
    const preflight = await call("/healthz", {
      method: "OPTIONS",
      headers: { Origin: "https://status.example", "Access-Control-Request-Method": "GET" },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("Access-Control-Allow-Origin")).toBe("*");
    const response = await call("/healthz", { headers: { Origin: "https://status.example" } });
    expect(response.status).toBe(200);
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe("*");
    expect(await response.json()).toMatchObject({ ok: true });
  });

  it("leaves a WebSocket upgrade's 101 response without CORS headers", async () => {
    const response = await call("/v1/connect?identity=cors-ws", {
      headers: { Upgrade: "websocket", Origin: ORIGIN },
    });
    expect(response.status).toBe(101);
    expect(response.headers.get("Access-Control-Allow-Origin")).toBeNull();
    response.webSocket?.accept();
    response.webSocket?.close();
  });
});

describe("dev mode and browser origins", () => {
  const whoami = (origin: string) =>
    call("/v1/whoami?identity=origin-check", { headers: { Origin: origin } });

  it("serves pages of this machine: localhost, 127.x, [::1] and *.localhost", async () => {
    for (const origin of [
      "http://localhost:5173",
      "http://127.0.0.1:8080",
      "http://[::1]:3000",
      "https://app.localhost",
    ]) {
      const response = await whoami(origin);
      expect(response.status, origin).toBe(200);
      await response.arrayBuffer();
    }
  });

  it("refuses with 403 a page of any other site, or an opaque (null) origin, which could act as anyone", async () => {
    for (const origin of ["https://evil.example", "null", "http://localhost.evil.example"]) {
      const response = await whoami(origin);
      expect(response.status, origin).toBe(403);
      expect(await response.json()).toMatchObject({
        error: { code: "forbidden", message: expect.stringContaining("localhost only") },
      });
    }
    const upgrade = await call("/v1/queues/devq/serve?identity=evil-page", {
      headers: { Upgrade: "websocket", Origin: "https://evil.example" },
    });
    expect(upgrade.status).toBe(403);
    expect(upgrade.webSocket).toBeNull();
  });

  it("serves callers that send no Origin (not a browser) as before", async () => {
    const response = await call("/v1/whoami?identity=origin-check");
    expect(response.status).toBe(200);
    await response.arrayBuffer();
  });
});
