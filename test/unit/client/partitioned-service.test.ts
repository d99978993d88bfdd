import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { connect, type Peer, type ServeRequest, type Status } from "../../../client/index.js";
import { DEFAULT_LIMITS, encodeBody } from "../../../protocol/index.js";
import { FakeRelay, settle } from "./fake-relay.js";

const SERVE = "/v1/queues/resize/serve";
let relay: FakeRelay;
let peer: Peer;

beforeEach(async () => {
  vi.useFakeTimers();
  // A refused upgrade is explained by the relay over HTTP (refusal.ts): answered at once here.
  vi.stubGlobal("fetch", async () => {
    const error = { code: "bad_request", message: "partition must be 0 to 0" };
    return new Response(JSON.stringify({ error }), { status: 400 });
  });
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
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

/** Serves `resize` and plays a first welcome that says the queue has `partitions`. */
async function serveOnPartitions(
  partitions: number,
  concurrency: number,
  handler: (request: ServeRequest) => string = () => "ok",
) {
  relay.answers.push({ kind: "silent" });
  const service = peer.serve("resize", handler, { concurrency });
  await settle();
  const first = relay.latest(SERVE);
  first.deliver({
    type: "welcome",
    v: 1,
    identity: "worker-1",
    role: "server",
    queue: "resize",
    partition: 0,
    partitions,
    limits: DEFAULT_LIMITS,
  });
  await settle();
  return service;
}

/** The welcome of `resize`'s partition `partition` of `partitions`. */
function welcomeOf(partition: number, partitions: number) {
  return {
    type: "welcome",
    v: 1,
    identity: "worker-1",
    role: "server",
    queue: "resize",
    partition,
    partitions,
    limits: DEFAULT_LIMITS,
  } as const;
}

describe("serve() on a partitioned queue", () => {
  it("opens one socket per partition after the first welcome and splits its concurrency", async () => {
    await serveOnPartitions(3, 10);
    const sockets = relay.socketsAt(SERVE);
    expect(sockets.map((s) => s.query.partition)).toEqual([undefined, "1", "2"]);
    const readies = sockets.map((s) => s.framesOf("ready").at(-1)?.concurrency);
    expect(readies).toEqual([4, 3, 3]);
  });

  it("gives each partition at least one slot when the concurrency is below the partition count", async () => {
    await serveOnPartitions(4, 2);
    const sockets = relay.socketsAt(SERVE);
    expect(sockets.map((s) => s.framesOf("ready").at(-1)?.concurrency)).toEqual([1, 1, 1, 1]);
  });

  it("tells the handler which partition dispatched a request and replies on that partition's socket", async () => {
    const seen: ServeRequest[] = [];
    await serveOnPartitions(2, 4, (request: ServeRequest) => {
      seen.push(request);
      return "done";
    });
    const second = relay.socketsAt(SERVE)[1];
    if (second === undefined) throw new Error("no socket for partition 1");
    second.deliver({
      type: "dispatch",
      id: "7",
      from: "alice",
      queue: "resize",
      body: encodeBody("job"),
      deadline: Date.now() + 60_000,
      attempt: 1,
    });
    await settle();
    expect(seen.map((r) => r.partition)).toEqual([1]);
    expect(second.framesOf("reply")).toEqual([
      { type: "reply", id: "7", body: encodeBody("done") },
    ]);
    expect(relay.socketsAt(SERVE)[0]?.framesOf("reply")).toEqual([]);
  });

  it("drains and closes every partition's socket on close()", async () => {
    const service = await serveOnPartitions(2, 4);
    const closing = service.close();
    await vi.runOnlyPendingTimersAsync();
    await closing;
    const sockets = relay.socketsAt(SERVE);
    expect(sockets.map((s) => s.framesOf("ready").at(-1)?.concurrency)).toEqual([0, 0]);
    expect(sockets.every((s) => s.closedBy !== undefined)).toBe(true);
  });

  it("is ready only once every partition's socket was welcomed, so failFast finds a server on each", async () => {
    // Found by a probe: `await service.ready` then a failFast request from a client of partition
    // 1..3 got no_responders, since ready followed partition 0's welcome alone.
    relay.answersAt(`${SERVE}`).push({ kind: "silent" }, { kind: "welcome" }, { kind: "silent" });
    const service = peer.serve("resize", () => "ok", { concurrency: 6 });
    const settled = track(service.ready);
    await settle();
    relay.latest(SERVE).deliver(welcomeOf(0, 3));
    await settle();
    expect(relay.socketsAt(SERVE)).toHaveLength(3);
    expect(settled()).toBe("pending");
    const third = relay.socketsAt(SERVE)[2];
    if (third === undefined) throw new Error("no socket for partition 2");
    third.deliver(welcomeOf(2, 3));
    await settle();
    expect(settled()).toBe("resolved");
  });

  it("is ready without a partition that a later welcome retired before it was welcomed", async () => {
    relay.answersAt(`${SERVE}`).push({ kind: "silent" }, { kind: "welcome" }, { kind: "silent" });
    const service = peer.serve("resize", () => "ok", { concurrency: 6 });
    const settled = track(service.ready);
    await settle();
    const first = relay.latest(SERVE);
    first.deliver(welcomeOf(0, 3));
    await settle();
    expect(settled()).toBe("pending");
    // Partition 0's socket reconnects (a deploy lowered K to 2) before partition 2 was welcomed.
    relay.answersAt(`${SERVE}`).push({ kind: "silent" });
    first.drop(1006, "deploy");
    await vi.advanceTimersByTimeAsync(100);
    relay.latest(SERVE).deliver(welcomeOf(0, 2));
    await settle();
    expect(settled()).toBe("resolved");
  });

  // A deploy that raises K reaches the Worker's instances over seconds: one still counting the old
  // K refuses the new partition's upgrade (400 "partition must be 0 to ..."). Before, the server
  // gave that partition up for good, and `ready` rejected.
  it("opens a partition's socket again after a refusal as bad_request, and is ready once it is welcomed", async () => {
    const statuses: Status[] = [];
    void (async () => {
      for await (const status of peer.status()) statuses.push(status);
    })();
    relay.answers.push({ kind: "silent" });
    const service = peer.serve("resize", () => "ok", { concurrency: 4 });
    const settled = track(service.ready);
    await settle();
    relay.answersAt(SERVE).push({ kind: "http", status: 400 });
    relay.latest(SERVE).deliver(welcomeOf(0, 2));
    await settle();
    expect(relay.socketsAt(SERVE).map((s) => s.query.partition)).toEqual([undefined, "1"]);
    expect(settled()).toBe("pending");
    // Not an `error` (which says a socket ended for good): it opens again.
    const ofPartition1 = statuses.filter(
      (status) => "partition" in status && status.partition === 1,
    );
    expect(ofPartition1.map((status) => status.type)).toEqual(["reconnecting"]);
    expect(ofPartition1[0]).toMatchObject({ queue: "resize", attempt: 1 });

    await vi.advanceTimersByTimeAsync(100);
    expect(relay.socketsAt(SERVE).map((s) => s.query.partition)).toEqual([undefined, "1", "1"]);
    expect(relay.latest(SERVE).framesOf("ready").at(-1)?.concurrency).toBe(2);
    expect(settled()).toBe("resolved");
  });

  it("does not open again a refused partition that a welcome retired (K lowered)", async () => {
    relay.answers.push({ kind: "silent" });
    const service = peer.serve("resize", () => "ok", { concurrency: 4 });
    const settled = track(service.ready);
    await settle();
    relay.answersAt(SERVE).push({ kind: "http", status: 400 }, { kind: "silent" });
    const random = vi.spyOn(Math, "random").mockReturnValue(0.9); // reopen partition 1 in 45 ms
    const first = relay.latest(SERVE);
    first.deliver(welcomeOf(0, 2));
    await settle();
    // Partition 1 was refused; partition 0 comes back at once with K = 1, before it opens again.
    random.mockReturnValue(0);
    first.drop(1006, "deploy");
    await vi.advanceTimersByTimeAsync(10);
    const back = relay.socketsAt(SERVE).at(-1);
    expect(back?.query.partition).toBeUndefined();
    back?.deliver(welcomeOf(0, 1));
    await settle();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(relay.socketsAt(SERVE)).toHaveLength(3);
    expect(settled()).toBe("resolved");
  });

  it("stops opening a refused partition again on close(), and ready then rejects with the refusal", async () => {
    relay.answers.push({ kind: "silent" });
    const service = peer.serve("resize", () => "ok", { concurrency: 4 });
    const settled = track(service.ready);
    await settle();
    relay.answersAt(SERVE).push({ kind: "http", status: 400 });
    relay.latest(SERVE).deliver(welcomeOf(0, 2));
    await settle();
    await service.close();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(relay.socketsAt(SERVE)).toHaveLength(2);
    expect(settled()).toBe("rejected");
    await expect(service.ready).rejects.toMatchObject({ code: "bad_request" });
  });

  it("stays on one socket when the queue has one partition", async () => {
    const service = peer.serve("resize", () => "ok", { concurrency: 8 });
    await service.ready;
    await settle();
    expect(relay.socketsAt(SERVE)).toHaveLength(1);
    expect(relay.latest(SERVE).framesOf("ready").at(-1)?.concurrency).toBe(8);
  });
});

/** Whether `promise` is still pending, resolved or rejected, read at any time. */
function track(promise: Promise<unknown>): () => "pending" | "resolved" | "rejected" {
  let state: "pending" | "resolved" | "rejected" = "pending";
  promise.then(
    () => {
      state = "resolved";
    },
    () => {
      state = "rejected";
    },
  );
  return () => state;
}
