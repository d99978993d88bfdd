/**
 * An HTTP service whose token expires. The README says that over HTTP "each call is refused
 * `unauthorized` until `setToken` gives a valid token"; a service instead stopped at its first
 * refused take, so after a late setToken (a background tab's renewal timer runs late) the peer's
 * requests worked again but nothing served its queue (a probe: `no_responders` from a Node
 * client). It reports the refusal once and takes again after setToken; a reply refused for the
 * expired token is posted once setToken renews it (it was dropped, and the handler ran again).
 * Serving again after setToken shows as `connected`, as a WebSocket service's reconnect does.
 */
import { afterEach, describe, expect, it } from "vitest";
import { connect, type FetchLike, type Peer, type Status } from "../../../client/index.js";
import { fakeToken } from "./fake-relay.js";
import { takeHeaders } from "./http-fakes.js";

const BASE = "http://relay.test";
const EXPIRED = JSON.stringify({ error: { code: "unauthorized", message: "token expired" } });

/** A relay whose takes are refused while `expired`, and answer `queued` requests otherwise. */
class FakeRelay {
  expired = false;
  readonly queued: string[] = [];
  readonly replied: string[] = [];
  readonly tokens: string[] = [];

  readonly fetch: FetchLike = async (url, init) => {
    const path = url.slice(BASE.length);
    this.tokens.push(init.headers.Authorization ?? "");
    if (path === "/v1/whoami") return Response.json({ identity: "alice", limits: {} });
    const reply = path.match(/\/replies\/(r\d+)/);
    if (reply?.[1] !== undefined && this.expired) {
      return new Response(EXPIRED, { status: 401, headers: JSON_TYPE });
    }
    if (reply?.[1] !== undefined) this.replied.push(reply[1]);
    if (!path.includes("/take?")) return new Response(null, { status: 204 });
    if (this.expired) return new Response(EXPIRED, { status: 401, headers: JSON_TYPE });
    await new Promise((resolve) => setTimeout(resolve, 5));
    const id = this.queued.shift();
    if (id === undefined) return new Response(null, { status: 204 });
    return new Response("job", { status: 200, headers: takeHeaders(id) });
  };
}

const JSON_TYPE = { "content-type": "application/json" };

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let peer: Peer | undefined;
afterEach(async () => {
  await peer?.close();
  peer = undefined;
});

const future = () => Math.floor(Date.now() / 1000) + 3_600;

/** A signed peer (token revision 1, valid for an hour) on `relay`. */
function signedPeer(relay: FakeRelay): Promise<Peer> {
  return connect(BASE, {
    transport: "http",
    token: fakeToken("alice", 1, future()),
    fetch: relay.fetch,
    reconnect: { minDelayMs: 1, maxDelayMs: 5 },
  });
}

describe("an HTTP service whose token expired", () => {
  it("reports it once, then serves again after setToken", async () => {
    const relay = new FakeRelay();
    peer = await signedPeer(relay);
    const statuses: Status[] = [];
    void (async () => {
      for await (const status of peer?.status() ?? []) statuses.push(status);
    })();
    const service = peer.serve("jobs", () => "done", { concurrency: 2 });
    await service.ready;
    relay.expired = true;
    await pause(1_500);
    const errors = statuses.filter((s) => s.type === "error");
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ queue: "jobs", error: { code: "unauthorized" } });

    const renewed = fakeToken("alice", 2, future());
    peer.setToken(renewed);
    relay.expired = false;
    relay.queued.push("r1");
    for (let i = 0; i < 100 && relay.replied.length === 0; i++) await pause(30);
    expect(relay.replied).toEqual(["r1"]);
    expect(relay.tokens.at(-1)).toBe(`Bearer ${renewed}`);
    // Serving again shows as connected, after the refusal's error (a dashboard sees it recover).
    const afterError = statuses.slice(statuses.indexOf(errors[0] as Status));
    expect(afterError.map((s) => [s.type, "queue" in s ? s.queue : undefined])).toContainEqual([
      "connected",
      "jobs",
    ]);
  });

  it("posts a reply refused for an expired token once setToken renews it, running the handler once", async () => {
    const relay = new FakeRelay();
    peer = await signedPeer(relay);
    let runs = 0;
    let finish: () => void = () => {};
    const service = peer.serve("jobs", async () => {
      runs += 1;
      await new Promise<void>((resolve) => {
        finish = resolve;
      });
      return "done";
    });
    await service.ready;
    relay.queued.push("r1");
    for (let i = 0; i < 100 && runs === 0; i++) await pause(10);
    // The token expires while the handler runs: its reply is refused.
    relay.expired = true;
    finish();
    await pause(200);
    expect(relay.replied).toEqual([]);
    const renewed = fakeToken("alice", 2, future());
    relay.expired = false;
    peer.setToken(renewed);
    for (let i = 0; i < 100 && relay.replied.length === 0; i++) await pause(10);
    expect(relay.replied).toEqual(["r1"]);
    expect(runs).toBe(1);
  });

  it("still ends in dev mode, where no setToken can help", async () => {
    const relay = new FakeRelay();
    peer = await connect(BASE, { transport: "http", identity: "alice", fetch: relay.fetch });
    const service = peer.serve("jobs", () => "done", { concurrency: 2 });
    await service.ready;
    relay.expired = true;
    await pause(1_500);
    const count = relay.tokens.length;
    await pause(1_500);
    expect(relay.tokens.length).toBe(count);
  });
});
