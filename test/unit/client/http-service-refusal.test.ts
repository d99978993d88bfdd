/**
 * An HTTP service refused for good (a token without the server role) reports it once: its take
 * loops ask at once, and each refusal that came back before the service stopped was reported
 * again (a probe: 2 or 3 identical `error` statuses for one refused serve()). It never shows
 * `connected` for that queue first (it did: a refusal was taken for the relay answering).
 */
import { describe, expect, it } from "vitest";
import { connect, type FetchLike, type Status } from "../../../client/index.js";

const REFUSAL = JSON.stringify({
  error: { code: "forbidden", message: "this token does not allow the server role" },
});

describe("an HTTP service refused", () => {
  it("reports one error, however many take loops heard the refusal, and never connected", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let takes = 0;
    const fetch: FetchLike = async (url) => {
      if (url.endsWith("/v1/whoami")) {
        return Response.json({ identity: "alice", roles: ["client"], limits: {} });
      }
      // close() says the service left (DELETE .../takes): no take.
      if (url.endsWith("/takes")) return new Response(null, { status: 204 });
      // Every loop's first take is in flight before any is answered, then all are refused.
      if (++takes === 4) release();
      await gate;
      return new Response(REFUSAL, {
        status: 403,
        headers: { "content-type": "application/json" },
      });
    };
    const peer = await connect("http://relay.test", {
      transport: "http",
      identity: "alice",
      fetch,
    });
    const statuses: Status[] = [];
    const feed = (async () => {
      for await (const status of peer.status()) statuses.push(status);
    })();
    const service = peer.serve("q", async () => 1, { concurrency: 4 });
    await expect(service.ready).rejects.toMatchObject({ code: "forbidden" });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await peer.close();
    await feed;
    expect(takes).toBe(4);
    expect(statuses.filter((s) => s.type === "error")).toHaveLength(1);
    // A refused take is no connection (a WebSocket service refused shows none either).
    expect(statuses.filter((s) => s.type === "connected" && s.queue === "q")).toEqual([]);
  });
});
