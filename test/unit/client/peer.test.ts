import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  type ConnectOptions,
  connect,
  DEFAULT_MAX_PENDING_REQUESTS,
  type Peer,
} from "../../../client/index.js";
import { encodeBody, type RequestFrame } from "../../../protocol/index.js";
import { closePeers, collect, FakeRelay, failure, settle } from "./fake-relay.js";

const CONNECT = "/v1/connect";
let relay: FakeRelay;
let peers: Peer[];

async function open(
  url = "ws://relay.test",
  identity = "alice",
  options: ConnectOptions = {},
): Promise<Peer> {
  const peer = await connect(url, {
    identity,
    WebSocket: relay.WebSocket,
    reconnect: { minDelayMs: 100, maxDelayMs: 100 },
    ...options,
  });
  peers.push(peer);
  return peer;
}

/** A peer with route "exchange": every request on /v1/connect, no queue link. */
function openExchangeOnly(): Promise<Peer> {
  return open("ws://relay.test", "alice", { route: "exchange" });
}

beforeEach(() => {
  vi.useFakeTimers();
  relay = new FakeRelay();
  peers = [];
});
afterEach(() => closePeers(peers));

describe("connect()", () => {
  it("opens <base>/v1/connect as ws(s) with the identity in the query and learns its identity", async () => {
    const peer = await open("https://relay.test/", "alice");
    expect(relay.latest(CONNECT).url).toBe("wss://relay.test/v1/connect?identity=alice");
    expect(peer.identity).toBe("alice");
  });

  it("rejects with unauthorized when the relay closes the first connection with 4401", async () => {
    relay.answers.push({ kind: "close", code: 4401, reason: "bad token" });
    expect((await failure(open())).code).toBe("unauthorized");
    expect(relay.sockets).toHaveLength(1);
  });

  it("rejects with unauthorized when the upgrade fails with HTTP 401", async () => {
    relay.answers.push({ kind: "http", status: 401 });
    expect((await failure(open())).code).toBe("unauthorized");
  });

  it("rejects with bad_request when the upgrade fails with HTTP 400", async () => {
    relay.answers.push({ kind: "http", status: 400 });
    expect((await failure(open())).code).toBe("bad_request");
  });

  it("rejects with closed, without retrying, when the first connection drops before its welcome", async () => {
    relay.answers.push({ kind: "http", status: 502 });
    expect((await failure(open())).code).toBe("closed");
    await vi.advanceTimersByTimeAsync(60_000);
    expect(relay.sockets).toHaveLength(1);
  });

  it("rejects with closed instead of hanging when the relay never sends a welcome", async () => {
    relay.autoPong = false;
    relay.answers.push({ kind: "silent" });
    const pending = failure(open());
    await vi.advanceTimersByTimeAsync(60_000);
    expect((await pending).code).toBe("closed");
  });

  // A probe behind a proxy that held WebSocket upgrades: connect() rejected after 45 s with
  // "closed with code 1006 (heartbeat timeout)", though no socket had opened to miss a pong.
  it("rejects an upgrade that is never answered with closed, saying so and naming the HTTP transports", async () => {
    relay.answers.push({ kind: "pending" });
    const pending = failure(open());
    // Within the busy heartbeat's bound (15 s), not the idle one (45 s).
    await vi.advanceTimersByTimeAsync(16_000);
    const error = await pending;
    expect(error.code).toBe("closed");
    expect(error.message).toContain("no answer to the WebSocket upgrade");
    expect(error.message).toContain('transport "auto" or "http"');
    expect(error.message).not.toContain("heartbeat");
  });

  it("rejects a url that is not ws(s) or http(s) with bad_request", async () => {
    expect((await failure(open("ftp://relay.test"))).code).toBe("bad_request");
  });

  // A probe: { minDelayMs: NaN } (a Number() of an unset variable) or a negative delay made a peer
  // that lost the relay reconnect with no delay at all, 2,600 tries in 4 s; maxPendingRequests: 0
  // connected, then refused every request with "0 requests are unfinished".
  it.each<[string, ConnectOptions]>([
    ["reconnect.minDelayMs NaN", { reconnect: { minDelayMs: Number.NaN } }],
    ["reconnect.minDelayMs negative", { reconnect: { minDelayMs: -100, maxDelayMs: 100 } }],
    ["reconnect.minDelayMs 0", { reconnect: { minDelayMs: 0, maxDelayMs: 5_000 } }],
    ["reconnect.maxDelayMs 0", { reconnect: { minDelayMs: 100, maxDelayMs: 0 } }],
    ["reconnect.maxDelayMs Infinity", { reconnect: { maxDelayMs: Number.POSITIVE_INFINITY } }],
    ["maxPendingRequests 0", { maxPendingRequests: 0 }],
    ["maxPendingRequests -1", { maxPendingRequests: -1 }],
    ["maxPendingRequests 1.5", { maxPendingRequests: 1.5 }],
    // The relay took an empty identity for none (401 unauthorized), and refused other bad ones.
    ["identity empty", { identity: "" }],
    ["identity with a space", { identity: "a b" }],
  ])("rejects %s with bad_request naming the option, opening nothing", async (_, options) => {
    const fetched: string[] = [];
    const fetch = async (url: string) => {
      fetched.push(url);
      throw new Error("no relay here");
    };
    for (const transport of ["websocket", "http"] as const) {
      const error = await failure(
        connect("ws://relay.test", {
          identity: "alice",
          WebSocket: relay.WebSocket,
          fetch,
          transport,
          ...options,
        }),
      );
      expect(error.code).toBe("bad_request");
      expect(error.message).toMatch(/minDelayMs|maxDelayMs|maxPendingRequests|identity must be/);
    }
    expect(relay.sockets).toHaveLength(0);
    expect(fetched).toEqual([]);
  });
});

describe("peer.request()", () => {
  it("holds 10,000 unfinished requests by default: the next one rejects with too_many_in_flight and sends nothing", async () => {
    expect(DEFAULT_MAX_PENDING_REQUESTS).toBe(10_000);
    const peer = await openExchangeOnly();
    const socket = relay.latest(CONNECT);
    const pending = Array.from({ length: 10_000 }, (_, n) => peer.request("q", n));
    await settle();
    expect(socket.framesOf("request")).toHaveLength(10_000);
    const refused = await failure(peer.request("q", "one too many"));
    expect(refused.code).toBe("too_many_in_flight");
    await settle();
    const sent = socket.framesOf("request");
    expect(sent).toHaveLength(10_000);
    expect(sent.some((frame) => frame.body.data === '"one too many"')).toBe(false);
    // The relay answers them all (batches of at most 1,000 frames): nothing is left for close().
    for (let i = 0; i < sent.length; i += 1_000) {
      const replies = sent.slice(i, i + 1_000).map((frame) => frame.id);
      socket.deliver(...replies.map((id) => ({ type: "reply" as const, id, body: encodeBody(0) })));
    }
    await Promise.all(pending);
  });

  it("sends frames queued in the same tick as one message", async () => {
    const peer = await open();
    const socket = relay.latest(CONNECT);
    for (const n of [1, 2, 3]) void peer.request("q", n).catch(() => {});
    await settle();
    const messages = socket.sent.filter((message) => message !== "ping");
    expect(messages).toHaveLength(1);
    expect(JSON.parse(messages[0] ?? "")).toHaveLength(3);
  });

  it("resolves from the relay's reply and acks it", async () => {
    const peer = await open();
    const socket = relay.latest(CONNECT);
    const reply = peer.request("q", { n: 1 });
    await settle();
    const [request] = socket.framesOf("request");
    if (!request) throw new Error("no request");
    socket.deliver(
      { type: "accepted", id: request.id, deadline: Date.now() + 30_000 },
      { type: "reply", id: request.id, body: encodeBody({ ok: true }) },
    );
    expect(await reply).toEqual({ ok: true });
    await settle();
    expect(socket.framesOf("ack")).toEqual([{ type: "ack", ids: [request.id] }]);
  });

  it("resolves requestReply() with the reply's body, media type (its kind's when none was named) and headers, and request() with the body alone", async () => {
    const peer = await open();
    const socket = relay.latest(CONNECT);
    const whole = peer.requestReply("q", "a");
    const plain = peer.requestReply("q", "b");
    const bodyOnly = peer.request("q", "c");
    await settle();
    const [a, b, c] = socket.framesOf("request").map((frame) => frame.id);
    const typedBody = { ...encodeBody("a,b\n"), type: "text/csv" };
    const headers = { "trace-id": "4bf92f", "Content-Language": "en" };
    socket.deliver(
      { type: "reply", id: a ?? "", body: typedBody, headers },
      { type: "reply", id: b ?? "", body: encodeBody({ ok: true }) },
      { type: "reply", id: c ?? "", body: encodeBody("c"), headers },
    );
    expect(await whole).toEqual({ body: "a,b\n", contentType: "text/csv", headers });
    // A body whose server named no media type gets its kind's, as an HTTP client reads it.
    expect(await plain).toEqual({
      body: { ok: true },
      contentType: "application/json",
      headers: {},
    });
    expect(await bodyOnly).toBe("c");
  });

  it("rejects requestReply() as request() with the relay's error", async () => {
    const peer = await open();
    const socket = relay.latest(CONNECT);
    const whole = peer.requestReply("q", "a");
    await settle();
    const [request] = socket.framesOf("request");
    socket.deliver({ type: "error", id: request?.id ?? "", code: "server_error", message: "boom" });
    const error = await failure(whole);
    expect([error.code, error.message]).toEqual(["server_error", "boom"]);
  });

  it("re-sends pending requests with the same ids after a reconnect and resolves from replies sent then", async () => {
    const peer = await openExchangeOnly();
    const statuses = collect(peer);
    const first = relay.latest(CONNECT);
    const replies = [peer.request("q", "a"), peer.request("q", "b")];
    await settle();
    const ids = first.framesOf("request").map((frame) => frame.id);
    first.drop(1006, "network");
    await vi.advanceTimersByTimeAsync(100);
    await settle();
    const second = relay.latest(CONNECT);
    expect(second).not.toBe(first);
    expect(second.framesOf("request").map((frame) => frame.id)).toEqual(ids);
    second.deliver(
      ...ids.map((id, i) => ({ type: "reply" as const, id, body: encodeBody(`re-${i}`) })),
    );
    expect(await Promise.all(replies)).toEqual(["re-0", "re-1"]);
    expect(statuses.map((status) => status.type)).toEqual([
      "disconnected",
      "reconnecting",
      "connected",
    ]);
  });

  it("reports an outage as one disconnected, then a reconnecting per attempt, as over HTTP", async () => {
    const peer = await openExchangeOnly();
    const statuses = collect(peer);
    const failedTry = { kind: "close", code: 1001, reason: "restarting" } as const;
    relay.answersAt(CONNECT).push(failedTry, failedTry);
    relay.latest(CONNECT).drop(1006, "network");
    await vi.advanceTimersByTimeAsync(350);
    await settle();
    expect(relay.socketsAt(CONNECT).length).toBe(4);
    expect(statuses.map((status) => status.type)).toEqual([
      "disconnected",
      "reconnecting",
      "reconnecting",
      "reconnecting",
      "connected",
    ]);
    expect(statuses.flatMap((s) => (s.type === "reconnecting" ? [s.attempt] : []))).toEqual([
      1, 2, 3,
    ]);
  });

  it("queues a request made while disconnected and sends it once reconnected", async () => {
    const peer = await openExchangeOnly();
    relay.latest(CONNECT).drop(1001, "going away");
    const reply = peer.request("q", "later");
    await settle();
    await vi.advanceTimersByTimeAsync(100);
    await settle();
    const socket = relay.latest(CONNECT);
    const [request] = socket.framesOf("request");
    expect(request?.body).toEqual(encodeBody("later"));
    socket.deliver({ type: "reply", id: request?.id ?? "", body: encodeBody("done") });
    expect(await reply).toBe("done");
  });

  it("does not reconnect when replaced by a newer connection, and rejects pending requests", async () => {
    const peer = await openExchangeOnly();
    const pending = failure(peer.request("q", 1));
    await settle();
    relay.latest(CONNECT).drop(4001, "replaced");
    expect((await pending).code).toBe("closed");
    await vi.advanceTimersByTimeAsync(60_000);
    expect(relay.sockets).toHaveLength(1);
  });

  it("refuses serve() with closed once replaced, as request() and setToken() are, opening no server socket", async () => {
    const peer = await openExchangeOnly();
    relay.latest(CONNECT).drop(4001, "replaced");
    await settle();
    expect((await failure(peer.request("q", 1))).code).toBe("closed");
    expect(() => peer.serve("jobs", () => 1)).toThrow(
      expect.objectContaining({
        code: "closed",
        message: expect.stringMatching(/this peer has ended \(replaced.*connect\(\) again/),
      }),
    );
    await vi.advanceTimersByTimeAsync(1_000);
    expect(relay.sockets).toHaveLength(1);
  });

  it("treats a socket with no pong for two heartbeat intervals as dead and reconnects", async () => {
    await open();
    relay.autoPong = false;
    const first = relay.latest(CONNECT);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(first.sent.filter((message) => message === "ping")).toHaveLength(2);
    expect(relay.sockets).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(15_000 + 100);
    await settle();
    expect(relay.sockets).toHaveLength(2);
    expect(first.terminated).toBe(true);
  });

  it("ends its sockets at once when close()'s handshake gets no answer in 1 s, so nothing holds the process", async () => {
    const peer = await open();
    const first = relay.latest(CONNECT);
    relay.holdCloses = true;
    const closing = peer.close();
    await vi.advanceTimersByTimeAsync(900);
    expect(first.closedBy?.reason).toBe("closed by client");
    expect(first.terminated).toBe(false);
    await vi.advanceTimersByTimeAsync(200);
    await closing;
    expect(first.terminated).toBe(true);
    expect(first.readyState).toBe(3);
  });

  it("finds a silent socket within 15 s while a request waits on it, then reconnects and re-sends the request", async () => {
    const peer = await openExchangeOnly();
    const pending = peer.request("q", 1);
    await settle();
    const first = relay.latest(CONNECT);
    const [request] = first.framesOf("request");
    if (!request) throw new Error("no request");
    relay.autoPong = false;
    await vi.advanceTimersByTimeAsync(15_000 + 100);
    await settle();
    expect(first.terminated).toBe(true);
    const second = relay.latest(CONNECT);
    expect(second).not.toBe(first);
    expect(second.framesOf("request").map((frame) => frame.id)).toEqual([request.id]);
    second.deliver(
      { type: "accepted", id: request.id, deadline: Date.now() + 30_000 },
      { type: "reply", id: request.id, body: encodeBody(2) },
    );
    expect(await pending).toBe(2);
  });

  it("keeps a socket that answers pings alive", async () => {
    await open();
    await vi.advanceTimersByTimeAsync(120_000);
    expect(relay.sockets).toHaveLength(1);
  });

  it("surfaces a relay error frame without id on status() instead of throwing", async () => {
    const peer = await open();
    const statuses = collect(peer);
    relay.latest(CONNECT).deliver({ type: "error", code: "bad_request", message: "what?" });
    relay.latest(CONNECT).deliverRaw("not json");
    await settle();
    const errors = statuses.flatMap((status) => (status.type === "error" ? [status.error] : []));
    expect(errors.map((error) => error.code)).toEqual(["bad_request", "bad_request"]);
    expect(errors[0]?.message).toBe("what?");
  });
});

describe("peer.close()", () => {
  it("refuses new requests with closed, lets a pending one get its reply, then closes the socket and ends status()", async () => {
    const peer = await open();
    const statuses = collect(peer);
    const pending = peer.request("q", 1);
    await settle();
    const socket = relay.latest(CONNECT);
    const [request] = socket.framesOf("request");
    let closed = false;
    const closing = peer.close().then(() => {
      closed = true;
    });
    expect((await failure(peer.request("q", 2))).code).toBe("closed");
    await settle();
    expect(closed).toBe(false);
    expect(socket.closedBy).toBeUndefined();
    socket.deliver({ type: "reply", id: request?.id ?? "", body: encodeBody("answer") });
    expect(await pending).toBe("answer");
    await closing;
    expect(socket.framesOf("ack").flatMap((ack) => ack.ids)).toEqual([request?.id]);
    expect(socket.closedBy?.code).toBe(1000);
    await settle();
    expect(statuses.at(-1)).toEqual({ type: "closed" });
  });

  it("waits for a request the relay never answers only until its local backstop rejects it with timeout", async () => {
    const peer = await open();
    const pending = failure(peer.request("q", 1, { timeout: 1_000 }));
    await settle();
    let closed = false;
    const closing = peer.close().then(() => {
      closed = true;
    });
    await vi.advanceTimersByTimeAsync(2_900);
    expect(closed).toBe(false);
    await vi.advanceTimersByTimeAsync(200);
    expect((await pending).code).toBe("timeout");
    await closing;
    expect(relay.latest(CONNECT).closedBy?.code).toBe(1000);
  });

  it("is what Symbol.asyncDispose does", async () => {
    const peer = await open();
    await peer[Symbol.asyncDispose]();
    expect(relay.latest(CONNECT).closedBy?.code).toBe(1000);
  });

  it("leaves the frames sent just before it on the wire", async () => {
    const peer = await open();
    const socket = relay.latest(CONNECT);
    const pending = peer.request("q", 1);
    const closing = peer.close();
    await settle();
    const requests = socket.framesOf("request") satisfies RequestFrame[];
    expect(requests).toHaveLength(1);
    socket.deliver({ type: "reply", id: requests[0]?.id ?? "", body: encodeBody(1) });
    expect(await pending).toBe(1);
    await closing;
  });
});
