/**
 * `connect(url, { transport: "auto" })`: a WebSocket when the relay welcomes one, else HTTP when
 * the relay answers it (a proxy refused or held the upgrade), else the relay's refusal or both
 * transports' reasons. Against the fake relay's WebSocket and a scripted fetch.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { AUTO_WEBSOCKET_WAIT_MS } from "../../../client/auto-transport.js";
import type { FetchLike, Peer } from "../../../client/index.js";
import { connect, EdgeMQError } from "../../../client/index.js";
import { FakeRelay, failure } from "./fake-relay.js";

const URL = "ws://relay.test";
let peers: Peer[] = [];

afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(peers.map((peer) => peer.close()));
  peers = [];
});

/** A fetch whose whoami answers `status` (throws: a network error); counts its calls. */
function whoamiFetch(status: number | "down"): { fetch: FetchLike; calls: string[] } {
  const calls: string[] = [];
  const fetch: FetchLike = async (url) => {
    calls.push(url);
    if (status === "down") throw new TypeError("fetch failed: ECONNREFUSED");
    if (status === 200) {
      const body = { identity: "alice", roles: ["client"], limits: {} };
      return new Response(JSON.stringify(body), { status });
    }
    const error = { error: { code: "unauthorized", message: "token expired" } };
    return new Response(JSON.stringify(error), { status });
  };
  return { fetch, calls };
}

async function auto(relay: FakeRelay, fetch: FetchLike): Promise<Peer> {
  const peer = await connect(URL, {
    identity: "alice",
    transport: "auto",
    WebSocket: relay.WebSocket,
    fetch,
    route: "exchange",
  });
  peers.push(peer);
  return peer;
}

describe('transport: "auto"', () => {
  it("uses the WebSocket when the relay welcomes it, without calling HTTP", async () => {
    const relay = new FakeRelay();
    const http = whoamiFetch(200);
    const peer = await auto(relay, http.fetch);
    expect(peer.transport).toBe("websocket");
    expect(http.calls).toEqual([]);
  });

  it("falls back to HTTP when the upgrade is refused (a proxy's 403) and the relay answers HTTP", async () => {
    const relay = new FakeRelay();
    relay.fallback = { kind: "http", status: 403 };
    const http = whoamiFetch(200);
    const peer = await auto(relay, http.fetch);
    expect(peer.transport).toBe("http");
    expect(peer.identity).toBe("alice");
    expect(http.calls).toEqual(["http://relay.test/v1/whoami"]);
  });

  it("falls back to HTTP when the upgrade fails as a bare 1006 (a browser behind a proxy)", async () => {
    const relay = new FakeRelay();
    relay.fallback = { kind: "hidden" };
    const peer = await auto(relay, whoamiFetch(200).fetch);
    expect(peer.transport).toBe("http");
  });

  it("falls back to HTTP when no welcome comes within the wait, and closes the held socket", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const relay = new FakeRelay();
    relay.fallback = { kind: "silent" };
    const connecting = auto(relay, whoamiFetch(200).fetch);
    await vi.advanceTimersByTimeAsync(AUTO_WEBSOCKET_WAIT_MS - 1);
    expect(relay.sockets).toHaveLength(1);
    expect(relay.sockets[0]?.closedBy).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    const peer = await connecting;
    expect(peer.transport).toBe("http");
    expect(relay.sockets[0]?.closedBy ?? relay.sockets[0]?.terminated).toBeTruthy();
  });

  it("rejects with the relay's refusal when HTTP reaches it (a bad token is refused on both)", async () => {
    const relay = new FakeRelay();
    relay.fallback = { kind: "hidden" };
    const error = await failure(auto(relay, whoamiFetch(401).fetch));
    expect(error).toBeInstanceOf(EdgeMQError);
    expect(error.code).toBe("unauthorized");
    expect(error.message).toContain("token expired");
  });

  it("rejects with closed naming both transports when neither reaches the relay", async () => {
    const relay = new FakeRelay();
    relay.fallback = { kind: "close", code: 1006, reason: "connection refused" };
    const error = await failure(auto(relay, whoamiFetch("down").fetch));
    expect(error.code).toBe("closed");
    expect(error.message).toMatch(/WebSocket \(.*\) nor over HTTP \(.*cannot reach the relay/);
  });

  it("refuses a transport it does not know, naming the three it does", async () => {
    const error = await failure(connect(URL, { identity: "a", transport: "smoke" as "auto" }));
    expect(error.code).toBe("bad_request");
    expect(error.message).toContain('"auto"');
  });
});
