/**
 * Queue links (connect option `route: "queue"`, the default): a client socket per requested
 * queue, with requests, outcomes and acks routed between it and /v1/connect. Played against
 * the FakeRelay.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type ConnectOptions, connect, type Peer } from "../../../client/index.js";
import { encodeBody } from "../../../protocol/index.js";
import {
  ackedIds,
  closePeers,
  collect,
  FakeRelay,
  failure,
  requestIds,
  settle,
} from "./fake-relay.js";

const CONNECT = "/v1/connect";
const LINK_Q = "/v1/queues/q/connect";
const LINK_R = "/v1/queues/r/connect";
let relay: FakeRelay;
let peers: Peer[];

async function open(options: ConnectOptions = {}): Promise<Peer> {
  const peer = await connect("ws://relay.test", {
    identity: "alice",
    WebSocket: relay.WebSocket,
    reconnect: { minDelayMs: 100, maxDelayMs: 100 },
    ...options,
  });
  peers.push(peer);
  return peer;
}

/** Sends a request and returns its promise and id, once the frame is on a socket. */
async function send(peer: Peer, queue: string, body: string) {
  const reply = peer.request(queue, body);
  reply.catch(() => {});
  await settle();
  const id = relay.sockets
    .flatMap((socket) => socket.framesOf("request"))
    .find((frame) => frame.body.data === body)?.id;
  if (id === undefined) throw new Error(`request ${body} was not sent`);
  return { reply, id };
}

beforeEach(() => {
  vi.useFakeTimers();
  relay = new FakeRelay();
  peers = [];
});
afterEach(() => closePeers(peers));

describe("queue links: routing", () => {
  it("opens a link to /v1/queues/<q>/connect with the same identity at the first request to q", async () => {
    const peer = await open();
    expect(relay.socketsAt(LINK_Q)).toHaveLength(0);
    await send(peer, "q", "first");
    expect(relay.socketsAt(LINK_Q).map((socket) => socket.url)).toEqual([
      "ws://relay.test/v1/queues/q/connect?identity=alice",
    ]);
  });

  it("sends the first request via /v1/connect without re-sending it on the link once it opens", async () => {
    const peer = await open();
    const { id } = await send(peer, "q", "first");
    expect(requestIds(relay.latest(CONNECT))).toEqual([id]);
    expect(requestIds(relay.latest(LINK_Q))).toEqual([]);
  });

  it("sends requests made after the link's welcome on the link, not on /v1/connect", async () => {
    const peer = await open();
    const first = await send(peer, "q", "first");
    const second = await send(peer, "q", "second");
    expect(requestIds(relay.latest(LINK_Q))).toEqual([second.id]);
    expect(requestIds(relay.latest(CONNECT))).toEqual([first.id]);
  });

  it("sends a cancel for q on q's open link", async () => {
    const peer = await open();
    await send(peer, "q", "first");
    const controller = new AbortController();
    const pending = failure(peer.request("q", "later", { signal: controller.signal }));
    await settle();
    controller.abort();
    expect((await pending).code).toBe("cancelled");
    await settle();
    expect(
      relay
        .latest(LINK_Q)
        .framesOf("cancel")
        .map((frame) => frame.queue),
    ).toEqual(["q"]);
    expect(relay.latest(CONNECT).framesOf("cancel")).toEqual([]);
  });

  it("sends a request made while every socket is down on its queue's link once the link opens", async () => {
    const peer = await open();
    relay.latest(CONNECT).drop(1006, "network");
    relay.answersAt(CONNECT).push({ kind: "silent" });
    const reply = peer.request("q", "made-offline");
    await settle();
    const link = relay.latest(LINK_Q);
    const [request] = link.framesOf("request");
    expect(request?.body).toEqual(encodeBody("made-offline"));
    link.deliver({ type: "reply", id: request?.id ?? "", body: encodeBody("done") });
    expect(await reply).toBe("done");
  });
});

describe("queue links: outcomes and acks", () => {
  it("resolves a request from a reply on its link and acks it on the link", async () => {
    const peer = await open();
    const { reply, id } = await send(peer, "q", "first");
    const link = relay.latest(LINK_Q);
    link.deliver({ type: "reply", id, body: encodeBody("answer") });
    expect(await reply).toBe("answer");
    await settle();
    expect(ackedIds(link)).toEqual([id]);
    expect(ackedIds(relay.latest(CONNECT))).toEqual([]);
  });

  it("acks a reply that arrives on /v1/connect there, not on the link", async () => {
    const peer = await open();
    const { reply, id } = await send(peer, "q", "first");
    relay.latest(CONNECT).deliver({ type: "reply", id, body: encodeBody("answer") });
    expect(await reply).toBe("answer");
    await settle();
    expect(ackedIds(relay.latest(CONNECT))).toEqual([id]);
    expect(ackedIds(relay.latest(LINK_Q))).toEqual([]);
  });

  it("settles a duplicate outcome (the same id on both routes) once and acks it on both", async () => {
    const peer = await open();
    const { reply, id } = await send(peer, "q", "first");
    const settled = vi.fn();
    void reply.then(settled);
    relay.latest(LINK_Q).deliver({ type: "reply", id, body: encodeBody("one") });
    relay.latest(CONNECT).deliver({ type: "reply", id, body: encodeBody("two") });
    await settle();
    expect(settled.mock.calls).toEqual([["one"]]);
    expect(ackedIds(relay.latest(LINK_Q))).toEqual([id]);
    expect(ackedIds(relay.latest(CONNECT))).toEqual([id]);
  });
});

describe("queue links: reconnects", () => {
  it("re-sends only that queue's pending requests on a link that reconnects", async () => {
    const peer = await open();
    const q1 = await send(peer, "q", "q1");
    const r1 = await send(peer, "r", "r1");
    const q2 = await send(peer, "q", "q2");
    const r2 = await send(peer, "r", "r2");
    const oldLink = relay.latest(LINK_Q);
    oldLink.drop(1006, "network");
    await vi.advanceTimersByTimeAsync(100);
    await settle();
    const newLink = relay.latest(LINK_Q);
    expect(newLink).not.toBe(oldLink);
    expect(requestIds(newLink).sort()).toEqual([q1.id, q2.id].sort());
    expect(requestIds(relay.latest(LINK_R))).toEqual([r2.id]);
    expect(requestIds(relay.latest(CONNECT))).toEqual([q1.id, r1.id]);
  });

  it("re-sends on a reconnected /v1/connect every pending request but those an open link carried", async () => {
    const peer = await open();
    const q1 = await send(peer, "q", "q1");
    const q2 = await send(peer, "q", "q2");
    const r1 = await send(peer, "r", "r1");
    const r2 = await send(peer, "r", "r2");
    relay.answersAt(LINK_R).push({ kind: "silent" });
    relay.latest(LINK_R).drop(1006, "network");
    relay.latest(CONNECT).drop(1006, "network");
    await vi.advanceTimersByTimeAsync(100);
    await settle();
    // r's link is down: r1 and r2 go on /v1/connect. q1 went via /v1/connect, so it is re-sent,
    // on q's link (open now); q2 is with q's open link and is not re-sent.
    expect(requestIds(relay.latest(CONNECT)).sort()).toEqual([r1.id, r2.id].sort());
    expect(requestIds(relay.latest(LINK_Q))).toEqual([q2.id, q1.id]);
  });

  it("tags a link's statuses with its queue and link: true, and never emits closed for it", async () => {
    const peer = await open();
    const statuses = collect(peer);
    await send(peer, "q", "q1");
    relay.latest(LINK_Q).drop(1006, "network");
    await vi.advanceTimersByTimeAsync(100);
    await settle();
    expect(statuses).toEqual([
      { type: "connected", queue: "q", link: true },
      { type: "disconnected", code: 1006, reason: "network", queue: "q", link: true },
      { type: "reconnecting", attempt: 1, delayMs: expect.any(Number), queue: "q", link: true },
      { type: "connected", queue: "q", link: true },
    ]);
  });
});

describe("queue links: a link that ends for good", () => {
  it.each([403, 404])(
    "makes the queue exchange-only when the upgrade is refused with HTTP %i: pending requests are re-sent on /v1/connect, later ones go there, no new link",
    async (status) => {
      relay.answersAt(LINK_Q).push({ kind: "http", status });
      const peer = await open();
      const statuses = collect(peer);
      const first = await send(peer, "q", "first");
      await settle();
      expect(requestIds(relay.latest(CONNECT))).toEqual([first.id, first.id]);
      const second = await send(peer, "q", "second");
      await vi.advanceTimersByTimeAsync(60_000);
      expect(requestIds(relay.latest(CONNECT))).toEqual([first.id, first.id, second.id]);
      expect(relay.socketsAt(LINK_Q)).toHaveLength(1);
      expect(statuses.map((s) => [s.type, "queue" in s ? s.queue : undefined])).toEqual([
        ["error", "q"],
      ]);
    },
  );

  it("re-sends what a replaced link carried on /v1/connect and still resolves it from there", async () => {
    const peer = await open();
    await send(peer, "q", "first");
    const { reply, id } = await send(peer, "q", "on-link");
    relay.latest(LINK_Q).drop(4001, "replaced");
    await settle();
    expect(requestIds(relay.latest(CONNECT))).toContain(id);
    relay.latest(CONNECT).deliver({ type: "reply", id, body: encodeBody("via exchange") });
    expect(await reply).toBe("via exchange");
    await vi.advanceTimersByTimeAsync(60_000);
    expect(relay.socketsAt(LINK_Q)).toHaveLength(1);
  });

  it("retries a link whose first connection failed on the network, then carries requests", async () => {
    relay.answersAt(LINK_Q).push({ kind: "close", code: 1006 });
    const peer = await open();
    const first = await send(peer, "q", "first");
    expect(requestIds(relay.latest(CONNECT))).toContain(first.id);
    await vi.advanceTimersByTimeAsync(150); // the link's backoff (100 ms here)
    expect(relay.socketsAt(LINK_Q)).toHaveLength(2);
    const second = await send(peer, "q", "second");
    expect(requestIds(relay.latest(LINK_Q))).toEqual([second.id]);
  });

  it("does not reject any request when a link fails, and the peer keeps working", async () => {
    relay.answersAt(LINK_Q).push({ kind: "close", code: 4401, reason: "token expired" });
    const peer = await open();
    const { reply, id } = await send(peer, "q", "first");
    await settle();
    relay.latest(CONNECT).deliver({ type: "reply", id, body: encodeBody("fine") });
    expect(await reply).toBe("fine");
  });
});

describe("route option", () => {
  it('opens no link with route: "exchange"', async () => {
    const peer = await open({ route: "exchange" });
    const first = await send(peer, "q", "first");
    const second = await send(peer, "q", "second");
    expect(requestIds(relay.latest(CONNECT))).toEqual([first.id, second.id]);
    expect(relay.sockets.map((socket) => socket.path)).toEqual([CONNECT]);
  });

  it("rejects a bad route value with bad_request", async () => {
    const bad = { route: "direct" } as unknown as ConnectOptions;
    expect((await failure(open(bad))).code).toBe("bad_request");
    expect(relay.sockets).toHaveLength(0);
  });
});

describe("queue links: closing", () => {
  it("close() flushes acks on every route, then closes the links and /v1/connect", async () => {
    const peer = await open();
    const q = await send(peer, "q", "first");
    const r = await send(peer, "r", "first-r");
    relay.latest(LINK_Q).deliver({ type: "reply", id: q.id, body: encodeBody(1) });
    relay.latest(CONNECT).deliver({ type: "reply", id: r.id, body: encodeBody(2) });
    await peer.close();
    expect(ackedIds(relay.latest(LINK_Q))).toEqual([q.id]);
    expect(ackedIds(relay.latest(CONNECT))).toEqual([r.id]);
    expect(relay.sockets.map((socket) => [socket.path, socket.closedBy?.code])).toEqual([
      [CONNECT, 1000],
      [LINK_Q, 1000],
      [LINK_R, 1000],
    ]);
  });

  it("closes the links when /v1/connect ends for good", async () => {
    const peer = await open();
    const pending = failure(peer.request("q", "first"));
    await settle();
    relay.latest(CONNECT).drop(4001, "replaced");
    expect((await pending).code).toBe("closed");
    await settle();
    expect(relay.latest(LINK_Q).closedBy?.code).toBe(1000);
  });
});

describe("queue links: closing while one still connects", () => {
  // A browser logs "WebSocket is closed before the connection is established" for a socket
  // closed while CONNECTING: a page that sent one request and closed its peer got that warning.
  it("waits for the link's handshake to close it, instead of closing it while it connects", async () => {
    const peer = await open();
    relay.answersAt(LINK_Q).push({ kind: "pending" });
    const { reply, id } = await send(peer, "q", "first");
    relay.latest(CONNECT).deliver({ type: "reply", id, body: encodeBody("done") });
    await expect(reply).resolves.toBe("done");
    const link = relay.latest(LINK_Q);
    const closing = peer.close();
    await settle();
    expect(link.closedWhileConnecting).toBe(false);
    link.open();
    await vi.advanceTimersByTimeAsync(2_000);
    await closing;
    expect(link.closedBy?.code).toBe(1000);
    expect(link.closedWhileConnecting).toBe(false);
  });

  it("ends a link whose handshake never completes within close()'s wait", async () => {
    const peer = await open();
    relay.answersAt(LINK_Q).push({ kind: "pending" });
    const { reply, id } = await send(peer, "q", "first");
    relay.latest(CONNECT).deliver({ type: "reply", id, body: encodeBody("done") });
    await reply;
    const closing = peer.close();
    await vi.advanceTimersByTimeAsync(2_000);
    await closing;
    expect(relay.latest(LINK_Q).closedBy).toBeDefined();
  });
});
