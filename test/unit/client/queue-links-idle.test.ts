/**
 * Queue links are bounded (client/queue-links.ts): a link idle for LINK_IDLE_CLOSE_MS is closed
 * cleanly, a link is never closed with a request for its queue pending, at most MAX_QUEUE_LINKS
 * are open (the least recently used idle one makes room), and the exchange-only queues remembered
 * are capped. Played against the FakeRelay under fake timers.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { connect, type Peer } from "../../../client/index.js";
import {
  LINK_IDLE_CLOSE_MS,
  LINK_SWEEP_MS,
  MAX_EXCHANGE_ONLY,
  MAX_QUEUE_LINKS,
  NO_ROOM_RECHECK_MS,
} from "../../../client/queue-links.js";
import { encodeBody } from "../../../protocol/index.js";
import {
  ackedIds,
  closePeers,
  collect,
  FakeRelay,
  type FakeSocket,
  requestIds,
  settle,
} from "./fake-relay.js";

const CONNECT = "/v1/connect";
const LINK_Q = "/v1/queues/q/connect";
/** Long enough for a link idle since "now" to be closed by the sweep. */
const IDLE_CLOSE = LINK_IDLE_CLOSE_MS + LINK_SWEEP_MS;
let relay: FakeRelay;
let peers: Peer[];

async function open(): Promise<Peer> {
  const peer = await connect("ws://relay.test", {
    identity: "alice",
    WebSocket: relay.WebSocket,
    reconnect: { minDelayMs: 100, maxDelayMs: 100 },
  });
  peers.push(peer);
  return peer;
}

function linkOf(queue: string): string {
  return `/v1/queues/${queue}/connect`;
}

/** The socket that carried the request with body `body`, and the request's id. */
function findRequest(body: string): { socket: FakeSocket; id: string } {
  for (const socket of relay.sockets) {
    const frame = socket.framesOf("request").find((f) => f.body.data === body);
    if (frame) return { socket, id: frame.id };
  }
  throw new Error(`request ${body} was not sent`);
}

/** Sends a request and returns its promise, id and the socket it went on. */
async function send(peer: Peer, queue: string, body: string, timeout?: number) {
  const reply = peer.request(queue, body, timeout === undefined ? {} : { timeout });
  reply.catch(() => {});
  await settle();
  return { reply, ...findRequest(body) };
}

/** Sends a request to `queue` and answers it where it went: afterwards nothing is pending. */
async function roundTrip(peer: Peer, queue: string, body: string): Promise<FakeSocket> {
  const { reply, id, socket } = await send(peer, queue, body);
  socket.deliver({ type: "reply", id, body: encodeBody(`re: ${body}`) });
  expect(await reply).toBe(`re: ${body}`);
  await settle();
  return socket;
}

beforeEach(() => {
  vi.useFakeTimers();
  relay = new FakeRelay();
  peers = [];
});
afterEach(() => closePeers(peers));

describe("queue links: idle close", () => {
  it("closes a link idle for LINK_IDLE_CLOSE_MS with 1000, after acking what came on it; a later request opens a new link", async () => {
    const peer = await open();
    await roundTrip(peer, "q", "first");
    const oldLink = relay.latest(LINK_Q);
    expect(await roundTrip(peer, "q", "on-link")).toBe(oldLink);
    const acked = ackedIds(oldLink);
    expect(acked).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(LINK_IDLE_CLOSE_MS - 1);
    expect(oldLink.closedBy).toBeUndefined();
    await vi.advanceTimersByTimeAsync(LINK_SWEEP_MS + 1);
    expect(oldLink.closedBy).toEqual({ code: 1000, reason: "closed by client" });
    expect(ackedIds(oldLink)).toEqual(acked);

    // The next request goes over /v1/connect while a fresh link opens, and is answered.
    const later = await send(peer, "q", "later");
    expect(later.socket).toBe(relay.latest(CONNECT));
    const newLink = relay.latest(LINK_Q);
    expect(newLink).not.toBe(oldLink);
    expect(requestIds(newLink)).toEqual([]);
    later.socket.deliver({ type: "reply", id: later.id, body: encodeBody("again") });
    expect(await later.reply).toBe("again");
    // Once the new link is open it carries the queue's requests.
    const next = await send(peer, "q", "next");
    expect(next.socket).toBe(newLink);
    newLink.deliver({ type: "reply", id: next.id, body: encodeBody("on new link") });
    expect(await next.reply).toBe("on new link");
  });

  it("keeps a link used within LINK_IDLE_CLOSE_MS open", async () => {
    const peer = await open();
    await roundTrip(peer, "q", "first");
    const link = relay.latest(LINK_Q);
    for (let i = 0; i < 5; i++) {
      await vi.advanceTimersByTimeAsync(LINK_IDLE_CLOSE_MS - LINK_SWEEP_MS);
      expect(await roundTrip(peer, "q", `use-${i}`)).toBe(link);
    }
    expect(link.closedBy).toBeUndefined();
    expect(relay.socketsAt(LINK_Q)).toHaveLength(1);
  });

  it("never closes a link while a request for its queue is pending, however long it waits", async () => {
    relay.limits = { ...relay.limits, maxTimeoutMs: 24 * 3_600_000 };
    const peer = await open();
    await roundTrip(peer, "q", "first");
    const link = relay.latest(LINK_Q);
    const slow = await send(peer, "q", "slow", 24 * 3_600_000);
    expect(slow.socket).toBe(link);
    await vi.advanceTimersByTimeAsync(10 * IDLE_CLOSE);
    expect(link.closedBy).toBeUndefined();
    link.deliver({ type: "reply", id: slow.id, body: encodeBody("finally") });
    expect(await slow.reply).toBe("finally");
    await settle();
    expect(ackedIds(link)).toContain(slow.id);
    await vi.advanceTimersByTimeAsync(IDLE_CLOSE);
    expect(link.closedBy?.code).toBe(1000);
  });

  it("does not close a link whose queue has a request pending on /v1/connect", async () => {
    relay.limits = { ...relay.limits, maxTimeoutMs: 24 * 3_600_000 };
    const peer = await open();
    const first = await send(peer, "q", "first", 24 * 3_600_000);
    expect(first.socket).toBe(relay.latest(CONNECT));
    await vi.advanceTimersByTimeAsync(3 * IDLE_CLOSE);
    expect(relay.latest(LINK_Q).closedBy).toBeUndefined();
    first.socket.deliver({ type: "reply", id: first.id, body: encodeBody("done") });
    expect(await first.reply).toBe("done");
  });

  it("sends a request made as the idle close happens over /v1/connect, and it gets its reply", async () => {
    const peer = await open();
    await roundTrip(peer, "q", "first");
    const oldLink = relay.latest(LINK_Q);
    // The sweep runs every LINK_SWEEP_MS from the link's opening, here also its last use: the
    // sweep that closes it runs at LINK_IDLE_CLOSE_MS exactly.
    await vi.advanceTimersByTimeAsync(LINK_IDLE_CLOSE_MS - 1);
    expect(oldLink.closedBy).toBeUndefined();
    // The sweep runs (synchronously here) and the request follows before the close completes.
    vi.advanceTimersByTime(1);
    expect(oldLink.closedBy?.code).toBe(1000);
    expect(oldLink.readyState).toBe(2);
    const reply = peer.request("q", "racing");
    await settle();
    const { socket, id } = findRequest("racing");
    expect(socket).toBe(relay.latest(CONNECT));
    expect(requestIds(oldLink)).not.toContain(id);
    socket.deliver({ type: "reply", id, body: encodeBody("made it") });
    expect(await reply).toBe("made it");
    expect(relay.socketsAt(LINK_Q)).toHaveLength(2);
  });

  it("keeps the link of a request made just before the sweep, and answers it there", async () => {
    const peer = await open();
    await roundTrip(peer, "q", "first");
    const link = relay.latest(LINK_Q);
    // As above, the sweep would close the link at LINK_IDLE_CLOSE_MS exactly.
    await vi.advanceTimersByTimeAsync(LINK_IDLE_CLOSE_MS - 1);
    const reply = peer.request("q", "just-before");
    vi.advanceTimersByTime(1);
    await settle();
    expect(link.closedBy).toBeUndefined();
    const { socket, id } = findRequest("just-before");
    expect(socket).toBe(link);
    link.deliver({ type: "reply", id, body: encodeBody("kept") });
    expect(await reply).toBe("kept");
  });

  it("emits no status for an idle close (no error, no disconnected)", async () => {
    const peer = await open();
    const statuses = collect(peer);
    await roundTrip(peer, "q", "first");
    await vi.advanceTimersByTimeAsync(IDLE_CLOSE);
    expect(relay.latest(LINK_Q).closedBy?.code).toBe(1000);
    await settle();
    expect(statuses).toEqual([{ type: "connected", queue: "q", link: true }]);
  });

  it("closes an idle link that is still reconnecting, quietly", async () => {
    const peer = await open();
    const statuses = collect(peer);
    await roundTrip(peer, "q", "first");
    // Every reconnect fails (100 ms apart) for longer than the test runs.
    const failures = Array.from({ length: 10_000 }, () => ({ kind: "hidden" as const }));
    relay.answersAt(LINK_Q).push(...failures);
    relay.latest(LINK_Q).drop(1006, "network");
    await vi.advanceTimersByTimeAsync(IDLE_CLOSE);
    const count = relay.socketsAt(LINK_Q).length;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(relay.socketsAt(LINK_Q)).toHaveLength(count);
    expect(relay.answersAt(LINK_Q).length).toBeGreaterThan(0);
    expect(statuses.filter((status) => status.type === "error")).toEqual([]);
  });
});

describe("queue links: at most MAX_QUEUE_LINKS", () => {
  /** Opens one link per queue q0..q<n-1>, each used once, 1 ms apart (q0 least recently). */
  async function fill(peer: Peer, n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      await roundTrip(peer, `q${i}`, `fill-${i}`);
      await vi.advanceTimersByTimeAsync(1);
    }
  }

  function openLinks(): string[] {
    return relay.sockets
      .filter((socket) => socket.path !== CONNECT && socket.closedBy === undefined)
      .map((socket) => socket.path);
  }

  it("closes the least recently used idle link to make room for a new queue's", async () => {
    const peer = await open();
    await fill(peer, MAX_QUEUE_LINKS);
    expect(openLinks()).toHaveLength(MAX_QUEUE_LINKS);
    // q0 is used again: q1 is now the least recently used.
    await roundTrip(peer, "q0", "again");
    await vi.advanceTimersByTimeAsync(1);
    const extra = await send(peer, "extra", "extra");
    expect(relay.latest(linkOf("q1")).closedBy?.code).toBe(1000);
    expect(relay.latest(linkOf("q0")).closedBy).toBeUndefined();
    expect(openLinks()).toHaveLength(MAX_QUEUE_LINKS);
    expect(openLinks()).toContain(linkOf("extra"));
    extra.socket.deliver({ type: "reply", id: extra.id, body: encodeBody("ok") });
    expect(await extra.reply).toBe("ok");
    // q1's next request still works, and takes the room of the next least recently used (q2).
    await roundTrip(peer, "q1", "back");
    expect(relay.latest(linkOf("q2")).closedBy?.code).toBe(1000);
    expect(relay.socketsAt(linkOf("q1"))).toHaveLength(2);
  });

  it("sends a new queue's requests over /v1/connect when no link is idle", async () => {
    relay.limits = { ...relay.limits, maxTimeoutMs: 24 * 3_600_000 };
    const peer = await open();
    await fill(peer, MAX_QUEUE_LINKS);
    const busy = [];
    for (let i = 0; i < MAX_QUEUE_LINKS; i++) {
      busy.push(await send(peer, `q${i}`, `busy-${i}`, 24 * 3_600_000));
    }
    const extra = await send(peer, "extra", "extra");
    expect(extra.socket).toBe(relay.latest(CONNECT));
    expect(relay.socketsAt(linkOf("extra"))).toHaveLength(0);
    expect(openLinks()).toHaveLength(MAX_QUEUE_LINKS);
    extra.socket.deliver({ type: "reply", id: extra.id, body: encodeBody("via exchange") });
    expect(await extra.reply).toBe("via exchange");
    // Once q5's request is answered, its link makes room at extra's next request (having found
    // none idle, the links look again only after NO_ROOM_RECHECK_MS).
    const q5 = busy[5];
    q5?.socket.deliver({ type: "reply", id: q5.id, body: encodeBody("done") });
    await q5?.reply;
    await vi.advanceTimersByTimeAsync(NO_ROOM_RECHECK_MS);
    await send(peer, "extra", "extra-2");
    expect(relay.latest(linkOf("q5")).closedBy?.code).toBe(1000);
    expect(relay.socketsAt(linkOf("extra"))).toHaveLength(1);
    for (const { socket, id } of busy) {
      socket.deliver({ type: "reply", id, body: encodeBody("done") });
    }
    await Promise.all(busy.map(({ reply }) => reply));
  });
});

describe("queue links: exchange-only queues", () => {
  it(`remembers at most MAX_EXCHANGE_ONLY (${MAX_EXCHANGE_ONLY}) queues, forgetting the oldest, whose link is then tried again`, async () => {
    const peer = await open();
    for (let i = 0; i <= MAX_EXCHANGE_ONLY; i++) {
      relay.answersAt(linkOf(`x${i}`)).push({ kind: "http", status: 403 });
    }
    for (let i = 0; i <= MAX_EXCHANGE_ONLY; i++) {
      await roundTrip(peer, `x${i}`, `x-${i}`);
    }
    expect(relay.socketsAt(linkOf("x0"))).toHaveLength(1);
    expect(relay.socketsAt(linkOf("x1"))).toHaveLength(1);
    await roundTrip(peer, "x1", "x1-again");
    expect(relay.socketsAt(linkOf("x1"))).toHaveLength(1);
    await roundTrip(peer, "x0", "x0-again");
    expect(relay.socketsAt(linkOf("x0"))).toHaveLength(2);
  });
});
