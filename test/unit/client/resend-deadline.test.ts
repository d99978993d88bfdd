/**
 * Re-sends after a reconnect keep the request's own deadline (fixed at request(): its timeout, else
 * the relay's default) and a re-send refused by the relay is sent again later, against the fake
 * relay with fake timers (route "exchange": every request on /v1/connect).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { connect, type Peer } from "../../../client/index.js";
import { encodeBody, type RequestFrame } from "../../../protocol/index.js";
import { closePeers, FakeRelay, failure, settle } from "./fake-relay.js";

const CONNECT = "/v1/connect";
let relay: FakeRelay;
let peers: Peer[];

async function open(): Promise<Peer> {
  const peer = await connect("ws://relay.test", {
    identity: "alice",
    WebSocket: relay.WebSocket,
    route: "exchange",
    reconnect: { minDelayMs: 100, maxDelayMs: 100 },
  });
  peers.push(peer);
  return peer;
}

/** Every request frame the SDK sent on /v1/connect, over all its sockets, oldest first. */
function requests(): RequestFrame[] {
  return relay.socketsAt(CONNECT).flatMap((socket) => socket.framesOf("request"));
}

/** Drops the client socket and lets the SDK reconnect `awayMs` later (the relay answers later). */
async function dropFor(awayMs: number): Promise<void> {
  relay.answers.push({ kind: "silent" });
  relay.latest(CONNECT).drop();
  await vi.advanceTimersByTimeAsync(awayMs);
  relay.latest(CONNECT).welcome();
  await settle();
}

beforeEach(() => {
  vi.useFakeTimers();
  relay = new FakeRelay();
  relay.limits = { ...relay.limits, defaultTimeoutMs: 6_000 };
  peers = [];
});
afterEach(() => {
  vi.restoreAllMocks();
  return closePeers(peers);
});

describe("re-send deadline (WebSocket)", () => {
  it("re-sends a request made without a timeout with the relay's default less the time spent", async () => {
    const peer = await open();
    void peer.request("jobs", "a").catch(() => {});
    await settle();
    await dropFor(4_000);
    const timeouts = requests().map((frame) => frame.timeout);
    expect(timeouts).toHaveLength(2);
    expect(timeouts[0]).toBe(6_000);
    expect(timeouts[1]).toBeLessThanOrEqual(2_000);
    expect(timeouts[1]).toBeGreaterThan(1_800);
  });

  it("re-sends a request with a timeout with that timeout less the time spent", async () => {
    const peer = await open();
    void peer.request("jobs", "a", { timeout: 10_000 }).catch(() => {});
    await settle();
    await dropFor(3_000);
    const timeouts = requests().map((frame) => frame.timeout);
    expect(timeouts[0]).toBe(10_000);
    expect(timeouts[1]).toBeLessThanOrEqual(7_000);
    expect(timeouts[1]).toBeGreaterThan(6_800);
  });

  it("does not re-send a request whose deadline passed while away: it settles timeout at its backstop", async () => {
    const peer = await open();
    const pending = failure(peer.request("jobs", "a"));
    await settle();
    await dropFor(6_500);
    expect(requests()).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(2_000);
    expect((await pending).code).toBe("timeout");
  });

  it("resolves with a reply the outbox replays after a reconnect that came past the deadline", async () => {
    // The reply was made in time while the client was away; it arrives right after the welcome.
    const peer = await open();
    const reply = peer.request("jobs", "a");
    await settle();
    const id = requests()[0]?.id ?? "";
    await dropFor(6_500);
    relay.latest(CONNECT).deliver({ type: "reply", id, body: encodeBody("made in time") });
    expect(await reply).toBe("made in time");
  });
});

describe("refused re-sends", () => {
  /** A request the relay accepted, then a reconnect whose re-send the relay refuses with `code`. */
  async function refusedResend(code: "rate_limited" | "internal" | "too_many_in_flight") {
    const peer = await open();
    const reply = peer.request("jobs", "a", { timeout: 20_000 });
    await settle();
    const id = requests()[0]?.id ?? "";
    relay.latest(CONNECT).deliver({ type: "accepted", id, deadline: Date.now() + 20_000 });
    await settle();
    await dropFor(1_000);
    expect(requests()).toHaveLength(2);
    relay.latest(CONNECT).deliver({ type: "error", id, code, message: "retry later" });
    await settle();
    return { reply, id };
  }

  it("sends a re-send refused rate_limited again later, with less time, and gets its reply", async () => {
    // Full jitter may pick a 0 ms wait; pin it to half of the first step's 250 ms.
    vi.spyOn(Math, "random").mockReturnValue(0.5);
    const { reply, id } = await refusedResend("rate_limited");
    await vi.advanceTimersByTimeAsync(5_000);
    const sent = requests();
    expect(sent).toHaveLength(3);
    expect(sent[2]?.id).toBe(id);
    expect(sent[2]?.timeout).toBe((sent[1]?.timeout ?? 0) - 125);
    relay.latest(CONNECT).deliver({ type: "reply", id, body: encodeBody("done") });
    expect(await reply).toBe("done");
  });

  it("sends a re-send refused too_many_in_flight (outcomes wait unacked) again later, and gets its reply", async () => {
    const { reply, id } = await refusedResend("too_many_in_flight");
    await vi.advanceTimersByTimeAsync(5_000);
    expect(requests()).toHaveLength(3);
    relay.latest(CONNECT).deliver({ type: "reply", id, body: encodeBody("done") });
    expect(await reply).toBe("done");
  });

  it("settles too_many_in_flight when it answers a request's first send", async () => {
    const peer = await open();
    const pending = failure(peer.request("jobs", "a"));
    await settle();
    const id = requests()[0]?.id ?? "";
    relay.latest(CONNECT).deliver({ type: "error", id, code: "too_many_in_flight", message: "" });
    expect((await pending).code).toBe("too_many_in_flight");
  });

  it("sends a re-send refused internal (queue unavailable) again later, not settling it", async () => {
    const { reply, id } = await refusedResend("internal");
    await vi.advanceTimersByTimeAsync(5_000);
    expect(requests()).toHaveLength(3);
    relay.latest(CONNECT).deliver({ type: "reply", id, body: encodeBody("done") });
    expect(await reply).toBe("done");
  });

  it("settles internal when it is the accepted request's own outcome, with no copy outstanding", async () => {
    const peer = await open();
    const pending = failure(peer.request("jobs", "a"));
    await settle();
    const id = requests()[0]?.id ?? "";
    const socket = relay.latest(CONNECT);
    socket.deliver({ type: "accepted", id, deadline: Date.now() + 6_000 });
    await settle();
    socket.deliver({ type: "error", id, code: "internal", message: "unreadable" });
    expect((await pending).code).toBe("internal");
  });

  it("stops sending a refused re-send again at its deadline, settling timeout at its backstop", async () => {
    const { reply } = await refusedResend("rate_limited");
    const pending = failure(reply);
    const socket = relay.latest(CONNECT);
    // 24 s: past the 20 s deadline and the 2 s backstop after it.
    for (let i = 0; i < 48; i++) {
      await vi.advanceTimersByTimeAsync(500);
      const last = socket.framesOf("request").at(-1);
      if (last) socket.deliver({ type: "error", id: last.id, code: "rate_limited", message: "" });
      await settle();
    }
    expect((await pending).code).toBe("timeout");
    for (const frame of requests()) expect(frame.timeout).toBeGreaterThan(0);
  });

  it("sends again later a re-send refused rate_limited when the drop came before any accepted, and gets its reply", async () => {
    const peer = await open();
    const reply = peer.request("jobs", "a", { timeout: 20_000 });
    await settle();
    const id = requests()[0]?.id ?? "";
    await dropFor(1_000);
    expect(requests()).toHaveLength(2);
    const socket = relay.latest(CONNECT);
    socket.deliver({ type: "error", id, code: "rate_limited", message: "retry later" });
    await settle();
    expect(socket.framesOf("ack")).toEqual([]);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(requests()).toHaveLength(3);
    socket.deliver({ type: "reply", id, body: encodeBody("done") });
    expect(await reply).toBe("done");
  });
});

describe("cancels while disconnected (WebSocket)", () => {
  it("sends the cancel of a request aborted while disconnected first on the new socket, not the request", async () => {
    const peer = await open();
    const controller = new AbortController();
    const pending = failure(peer.request("jobs", "a", { signal: controller.signal }));
    await settle();
    const id = requests()[0]?.id ?? "";
    relay.answers.push({ kind: "silent" });
    relay.latest(CONNECT).drop();
    controller.abort();
    expect((await pending).code).toBe("cancelled");
    await vi.advanceTimersByTimeAsync(1_000);
    const socket = relay.latest(CONNECT);
    socket.welcome();
    await settle();
    expect(socket.frames()).toEqual([{ type: "cancel", id, queue: "jobs" }]);
  });
});
