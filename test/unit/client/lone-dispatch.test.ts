import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { connect, type Peer, type ServeRequest } from "../../../client/index.js";
import { DEFAULT_LIMITS, type DispatchFrame, encodeBody } from "../../../protocol/index.js";
import { FakeRelay, type FakeSocket, settle } from "./fake-relay.js";

/**
 * A request's last allowed dispatch after a lost lease (attempt >= 2 and >= maxAttempts, 3 here)
 * runs alone in the whole peer (lone-gate.ts), across its queues and partitions: each partition
 * is its own Durable Object and sees only its own connection, so the relay alone cannot keep it
 * from running beside a poison request on another socket of the same process.
 */

let relay: FakeRelay;
let peer: Peer;

beforeEach(async () => {
  vi.useFakeTimers();
  relay = new FakeRelay();
  peer = await connect("ws://relay.test", {
    identity: "worker-1",
    WebSocket: relay.WebSocket,
    reconnect: { minDelayMs: 50, maxDelayMs: 50 },
  });
});
afterEach(async () => {
  await peer.close();
  await vi.runOnlyPendingTimersAsync();
  vi.useRealTimers();
});

function dispatch(id: string, queue: string, attempt = 1): DispatchFrame {
  return {
    type: "dispatch",
    id,
    from: "alice",
    queue,
    body: encodeBody(null),
    deadline: Date.now() + 60_000,
    attempt,
  };
}

/** A handler whose calls wait until the test finishes them; `started` lists their ids. */
function held() {
  const started: string[] = [];
  const finishers = new Map<string, () => void>();
  const handler = (request: ServeRequest) => {
    started.push(request.id);
    return new Promise<string>((resolve) => finishers.set(request.id, () => resolve("ok")));
  };
  const finish = async (id: string) => {
    finishers.get(id)?.();
    await settle();
    await vi.advanceTimersByTimeAsync(1);
  };
  /** Lets its handler return, without running the timers. */
  const answer = (id: string) => finishers.get(id)?.();
  return { started, handler, finish, answer };
}

async function servedSocket(path: string): Promise<FakeSocket> {
  await settle();
  const socket = relay.latest(path);
  expect(socket.framesOf("ready").length).toBeGreaterThan(0);
  return socket;
}

describe("a lone dispatch, WebSocket transport", () => {
  it("waits for the handlers of the peer's other queues, and holds theirs off while it runs", async () => {
    const { started, handler, finish, answer } = held();
    peer.serve("a", handler);
    peer.serve("b", handler);
    const a = await servedSocket("/v1/queues/a/serve");
    const b = await servedSocket("/v1/queues/b/serve");
    b.deliver(dispatch("b1", "b"));
    await settle();
    a.deliver(dispatch("lone", "a", 3));
    await settle();
    expect(started).toEqual(["b1"]);
    // Its lease is renewed while it waits, as a waiting request's is.
    await vi.advanceTimersByTimeAsync(DEFAULT_LIMITS.leaseMs / 3 + 1);
    expect(a.framesOf("extend").flatMap((frame) => frame.ids)).toContain("lone");
    await finish("b1");
    expect(started).toEqual(["b1", "lone"]);
    b.deliver(dispatch("b2", "b"));
    await settle();
    expect(started).toEqual(["b1", "lone"]);
    answer("lone");
    await settle();
    // Its reply goes out before another handler (a poison request?) may start and kill the process.
    expect(a.framesOf("reply").map((frame) => frame.id)).toEqual(["lone"]);
    expect(started).toEqual(["b1", "lone"]);
    await vi.advanceTimersByTimeAsync(1);
    expect(started).toEqual(["b1", "lone", "b2"]);
    await finish("b2");
  });

  it("runs alone across the partitions of one queue", async () => {
    const { started, handler, finish } = held();
    relay.answers.push({ kind: "silent" });
    peer.serve("resize", handler, { concurrency: 4 });
    await settle();
    const path = "/v1/queues/resize/serve";
    const welcome = { type: "welcome", v: 1, identity: "worker-1", role: "server" } as const;
    const first = relay.latest(path);
    const limits = DEFAULT_LIMITS;
    first.deliver({ ...welcome, queue: "resize", partition: 0, partitions: 2, limits });
    await settle();
    const [p0, p1] = relay.socketsAt(path);
    if (p0 === undefined || p1 === undefined) throw new Error("expected two partition sockets");
    p1.deliver(dispatch("p1-a", "resize"));
    await settle();
    p0.deliver(dispatch("lone", "resize", 3));
    await settle();
    expect(started).toEqual(["p1-a"]);
    await finish("p1-a");
    expect(started).toEqual(["p1-a", "lone"]);
    p1.deliver(dispatch("p1-b", "resize"));
    await settle();
    expect(started).toEqual(["p1-a", "lone"]);
    await finish("lone");
    expect(started).toEqual(["p1-a", "lone", "p1-b"]);
    await finish("p1-b");
  });

  it("runs an earlier attempt, or any with maxAttempts 1, beside the others", async () => {
    const { started, handler, finish } = held();
    peer.serve("a", handler);
    peer.serve("b", handler);
    const a = await servedSocket("/v1/queues/a/serve");
    const b = await servedSocket("/v1/queues/b/serve");
    b.deliver(dispatch("b1", "b"));
    a.deliver(dispatch("second", "a", 2));
    await settle();
    expect(started).toEqual(["b1", "second"]);
    await finish("b1");
    await finish("second");
  });

  it("drops a waiting lone dispatch whose request the relay cancels, and the others go on", async () => {
    const { started, handler, finish } = held();
    peer.serve("a", handler);
    peer.serve("b", handler);
    const a = await servedSocket("/v1/queues/a/serve");
    const b = await servedSocket("/v1/queues/b/serve");
    b.deliver(dispatch("b1", "b"));
    a.deliver(dispatch("lone", "a", 3));
    b.deliver(dispatch("b2", "b"));
    await settle();
    expect(started).toEqual(["b1"]);
    a.deliver({ type: "cancel", id: "lone" });
    await settle();
    expect(started).toEqual(["b1", "b2"]);
    await finish("b1");
    await finish("b2");
  });

  it("lets the others start once a waiting lone dispatch's deadline passes", async () => {
    const { started, handler, finish } = held();
    peer.serve("a", handler);
    peer.serve("b", handler);
    const a = await servedSocket("/v1/queues/a/serve");
    const b = await servedSocket("/v1/queues/b/serve");
    b.deliver(dispatch("b1", "b"));
    a.deliver({ ...dispatch("lone", "a", 3), deadline: Date.now() + 5_000 });
    b.deliver(dispatch("b2", "b"));
    await settle();
    expect(started).toEqual(["b1"]);
    await vi.advanceTimersByTimeAsync(5_001);
    expect(started).toEqual(["b1", "b2"]);
    await finish("b1");
    expect(started).toEqual(["b1", "b2"]);
    await finish("b2");
  });
});
