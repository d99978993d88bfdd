/**
 * A signed-mode peer renews its token with setToken(): its sockets offer the new token when they
 * next open, and one the relay closes because its old token expired (4401) reconnects with the
 * new one, its requests carrying on, instead of ending the peer. Against the fake relay.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { connect, type Peer } from "../../../client/index.js";
import { CLOSE_CODE, encodeBody, TOKEN_SUBPROTOCOL_PREFIX } from "../../../protocol/index.js";
import { closePeers, collect, FakeRelay, fakeToken, settle } from "./fake-relay.js";

const CONNECT = "/v1/connect";
let relay: FakeRelay;
let peers: Peer[];

const token = fakeToken;

async function open(credential: { token?: string; identity?: string }): Promise<Peer> {
  const peer = await connect("ws://relay.test", {
    ...credential,
    route: "exchange",
    WebSocket: relay.WebSocket,
    reconnect: { minDelayMs: 100, maxDelayMs: 100 },
  });
  peers.push(peer);
  return peer;
}

const offered = (path: string) =>
  relay.latest(path).protocols.find((p) => p.startsWith(TOKEN_SUBPROTOCOL_PREFIX));

beforeEach(() => {
  vi.useFakeTimers();
  relay = new FakeRelay();
  peers = [];
});
afterEach(async () => {
  await closePeers(peers);
});

describe("setToken", () => {
  it("reconnects a socket closed as expired (4401) with the renewed token, and its request carries on", async () => {
    // The fake relay welcomes every socket as "alice".
    const peer = await open({ token: token("alice", 1) });
    expect(offered(CONNECT)).toBe(`${TOKEN_SUBPROTOCOL_PREFIX}${token("alice", 1)}`);
    const statuses = collect(peer);
    const reply = peer.request("q", "a", { timeout: 60_000 });
    await settle();
    peer.setToken(token("alice", 2));
    relay.latest(CONNECT).drop(CLOSE_CODE.unauthorized, "token expired");
    await vi.advanceTimersByTimeAsync(1_000);
    expect(relay.socketsAt(CONNECT)).toHaveLength(2);
    expect(offered(CONNECT)).toBe(`${TOKEN_SUBPROTOCOL_PREFIX}${token("alice", 2)}`);
    // The request was sent again on the new socket; its reply settles it.
    const resent = relay.latest(CONNECT).framesOf("request");
    expect(resent.map((f) => f.id)).toHaveLength(1);
    relay
      .latest(CONNECT)
      .deliver({ type: "reply", id: resent[0]?.id ?? "", body: encodeBody("ok") });
    expect(await reply).toBe("ok");
    expect(statuses.filter((s) => s.type === "error")).toEqual([]);
  });

  it("still ends the peer on a 4401 when no token was given since, and a token given after is refused", async () => {
    const peer = await open({ token: token("alice", 1) });
    const statuses = collect(peer);
    relay.latest(CONNECT).drop(CLOSE_CODE.unauthorized, "token expired");
    await vi.advanceTimersByTimeAsync(1_000);
    expect(relay.socketsAt(CONNECT)).toHaveLength(1);
    const errors = statuses.flatMap((s) => (s.type === "error" ? [s.error.code] : []));
    expect(errors).toEqual(["unauthorized"]);
    expect(() => peer.setToken(token("alice", 2))).toThrow(
      /this peer has ended .*connect\(\) again/,
    );
  });

  it("refuses a token naming another identity, or any token for a dev-mode peer", async () => {
    const signed = await open({ token: token("alice", 1) });
    expect(() => signed.setToken(token("mallory", 2))).toThrow(
      /the token names identity mallory, and this peer is alice/,
    );
    expect(() => signed.setToken("not-a-token")).toThrow(/names no identity/);
    const longAgo = Math.floor(Date.now() / 1000) - 3_600;
    expect(() => signed.setToken(token("alice", 3, longAgo))).toThrow(/the token has expired/);
    const dev = await open({ identity: "alice" });
    expect(() => dev.setToken(token("alice", 2))).toThrow(/connected without a token/);
  });
});
