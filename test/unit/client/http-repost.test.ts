/**
 * The HTTP transport's request() after the relay was out of reach: a poll that had to be retried
 * is followed by the POST again (same id, less time), as the WebSocket SDK re-sends after a
 * reconnect, so a request a memory queue lost in a restart still runs. Against a fake fetch of a
 * relay without `GET /v1/outcomes` (each request polls its own id; http-outcomes.test.ts tests
 * the same after the one poll for all failed).
 */
import { afterEach, describe, expect, it } from "vitest";
import { connect, type FetchLike, type Peer } from "../../../client/index.js";

interface Call {
  method: string;
  path: string;
  id: string | undefined;
}

let peer: Peer | undefined;
afterEach(async () => {
  await peer?.close();
  peer = undefined;
});

/** A peer whose fetch answers from `script`; throwing in it is a network error. */
async function httpPeer(script: (call: Call, calls: Call[]) => Response): Promise<Call[]> {
  const calls: Call[] = [];
  const fetch: FetchLike = async (url, init) => {
    const call = {
      method: init.method,
      path: url.slice("http://relay.test".length),
      id: init.headers["EdgeMQ-Request-Id"],
    };
    if (call.path === "/v1/whoami") {
      return Response.json({ identity: "alice", roles: ["client"], limits: {} });
    }
    calls.push(call);
    return script(call, calls);
  };
  peer = await connect("http://relay.test", {
    transport: "http",
    identity: "alice",
    fetch,
    reconnect: { minDelayMs: 1, maxDelayMs: 5 },
  });
  return calls;
}

const accepted = () => Response.json({ id: "x", deadline: Date.now() + 30_000 }, { status: 202 });
const pending = () => new Response(null, { status: 204 });

describe("request() over HTTP after the relay was out of reach", () => {
  it("posts the request again, with its id, once a poll got through after failing", async () => {
    let gets = 0;
    const calls = await httpPeer((call, all) => {
      if (call.method === "POST") return accepted();
      gets += 1;
      if (gets === 1) throw new TypeError("fetch failed"); // the relay restarting
      const posts = all.filter((c) => c.method === "POST").length;
      return posts < 2 ? pending() : Response.json({ ran: "again" });
    });
    await expect(peer?.request("jobs", { n: 1 }, { timeout: 5_000 })).resolves.toEqual({
      ran: "again",
    });
    const posts = calls.filter((c) => c.method === "POST");
    expect(posts).toHaveLength(2);
    expect(posts[1]?.id).toBe(posts[0]?.id);
    const timeouts = posts.map((c) =>
      Number(new URL(`http://x${c.path}`).searchParams.get("timeout")),
    );
    expect(timeouts[1]).toBeLessThanOrEqual(timeouts[0] ?? 0);
  });

  it("retries a failed poll without waiting, so the POST again is not held behind a long-poll", async () => {
    let gets = 0;
    const calls = await httpPeer((call) => {
      if (call.method === "POST") return accepted();
      gets += 1;
      if (gets === 1) throw new TypeError("fetch failed");
      return gets === 2 ? pending() : Response.json({ ran: "again" });
    });
    await expect(peer?.request("jobs", { n: 1 }, { timeout: 60_000 })).resolves.toEqual({
      ran: "again",
    });
    const waits = calls
      .filter((c) => c.method === "GET")
      .map((c) => Number(new URL(`http://x${c.path}`).searchParams.get("wait")));
    // The first poll long-polls; its retry asks at once; after the POST, polls wait again.
    expect(waits[0]).toBeGreaterThan(0);
    expect(waits[1]).toBe(0);
    expect(waits[2]).toBeGreaterThan(0);
    expect(calls.map((c) => c.method)).toEqual(["POST", "GET", "GET", "POST", "GET"]);
  });

  it("posts once while every poll gets through", async () => {
    let gets = 0;
    const calls = await httpPeer((call) => {
      if (call.method === "POST") return accepted();
      gets += 1;
      return gets < 3 ? pending() : Response.json({ ran: "once" });
    });
    await expect(peer?.request("jobs", { n: 1 })).resolves.toEqual({ ran: "once" });
    expect(calls.filter((c) => c.method === "POST")).toHaveLength(1);
  });
});
