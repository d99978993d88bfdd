/** CORS on the HTTP API: browser pages on any origin may call it; WebSocket upgrades pass untouched. */
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

const ORIGIN = "https://app.example";

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

  it("lets a page read a typed error and the EdgeMQ headers of an answer", async () => {
    const response = await call("/v1/whoami", { headers: { Origin: ORIGIN } });
    expect(response.status).toBe(401);
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe("*");
    const exposed = response.headers.get("Access-Control-Expose-Headers") ?? "";
    expect(exposed).toContain("EdgeMQ-Request-Id");
    expect(await response.json()).toMatchObject({ error: { code: "unauthorized" } });
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
