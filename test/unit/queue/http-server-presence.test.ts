/** HTTP servers' presence (durable-objects/queue/http-server-presence.ts): who counts as connected, and for how long it is remembered. */
import { describe, expect, it } from "vitest";
import { HttpServerPresence } from "../../../durable-objects/queue/http-server-presence.js";
import { HTTP_SERVER_PRESENCE_MS } from "../../../durable-objects/shared/http-contracts.js";

describe("HttpServerPresence", () => {
  it("counts an HTTP server as connected for HTTP_SERVER_PRESENCE_MS after it was last seen", () => {
    const presence = new HttpServerPresence();
    expect(presence.any(0)).toBe(false);
    presence.seen("a", 1_000);
    expect(presence.any(1_000 + HTTP_SERVER_PRESENCE_MS - 1)).toBe(true);
    expect(presence.any(1_000 + HTTP_SERVER_PRESENCE_MS)).toBe(false);
  });

  it("keeps a server seen again present, whatever order servers were first seen in", () => {
    const presence = new HttpServerPresence();
    presence.seen("a", 0);
    presence.seen("b", 10);
    presence.seen("a", HTTP_SERVER_PRESENCE_MS);
    expect(presence.any(HTTP_SERVER_PRESENCE_MS + 20)).toBe(true);
    expect(presence.size).toBe(1);
  });

  it("forgets servers not seen lately as others are seen, without anyone asking any()", () => {
    const presence = new HttpServerPresence();
    for (let i = 0; i < 50_000; i++) presence.seen(`server-${i}`, i);
    // Each sight forgets those older than the presence window: no more than a window's worth.
    expect(presence.size).toBeLessThanOrEqual(HTTP_SERVER_PRESENCE_MS);
    expect(presence.size).toBeLessThan(50_000);
  });
});
