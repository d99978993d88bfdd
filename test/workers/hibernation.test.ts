/**
 * Hibernation wake-ups in workerd. vitest-pool-workers 0.15.1 cannot evict an object, so each
 * test does what a wake-up does: inside runInDurableObject it constructs a second instance of the
 * class over the same `state` and `env` (the constructor re-runs with no in-memory state, while
 * the sockets, their attachments and SQLite remain) and drives webSocketMessage / webSocketClose /
 * alarm / RPC on it with a socket taken from state.getWebSockets(). Dispatch, replies, leases,
 * extend and the exchange's outbox replay must all work from what survived.
 *
 * Each test drives real sockets and RPC across two objects and waits on what they send (frames,
 * outbox rows, a socket's `ready` applied); none waits on a fixed time except to let a lease run
 * out. Those waits take ~100 ms even on a loaded machine, but a test once passed the 5 s default
 * when the whole workers project ran under heavy CPU load, so the suites below allow
 * WAKE_TEST_TIMEOUT_MS: a stalled machine gets time, a wait that never ends still fails.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ExchangeDO } from "../../durable-objects/exchange/exchange-do.js";
import { LINK_TAG } from "../../durable-objects/queue/link-attachment.js";
import { QueueDO } from "../../durable-objects/queue/queue-do.js";
import { readServerAttachment, SERVER_TAG } from "../../durable-objects/queue/server-attachment.js";
import type { Outcome } from "../../durable-objects/shared/contracts.js";
import { encodeBody } from "../../protocol/index.js";
import type { Env } from "../../src/env.js";
import { TestSocket } from "./exchange-test-socket.js";
import { outcomeFor, request, sleep, TestServer } from "./queue-test-server.js";

/** Per-test bound (see the header): generous for a starved machine, still finite. */
const WAKE_TEST_TIMEOUT_MS = 30_000;
/** How long readyApplied waits for a server's `ready` to reach its attachment. */
const READY_WAIT_MS = 10_000;

const queueStub = (queue: string) => env.QUEUE.getByName(queue);
const exchange = () => env.EXCHANGE.getByName("exchange");

/** The object's only server socket (the relay's end of a TestServer). */
function serverSocket(state: DurableObjectState): WebSocket {
  const [ws, ...others] = state.getWebSockets(SERVER_TAG);
  if (ws === undefined || others.length > 0) throw new Error("expected exactly one server socket");
  return ws;
}

function leaseOf(state: DurableObjectState, clientId: string): { state: unknown; until: unknown } {
  const row = state.storage.sql
    .exec("SELECT state, lease_until FROM requests WHERE client_id = ?", clientId)
    .one();
  return { state: row.state, until: row.lease_until };
}

/**
 * Waits (bounded) until the object has applied server `identity`'s `ready`. Only one instance
 * lives at a time in production; here the test's own instance would otherwise dispatch from an
 * in-memory index that a woken instance made stale.
 */
async function readyApplied(queue: string, identity: string): Promise<void> {
  // Bounded by time, not by a count of polls (each poll is a round trip that slows under load).
  const until = Date.now() + READY_WAIT_MS;
  while (Date.now() < until) {
    const concurrency = await runInDurableObject(queueStub(queue), (_i, state) => {
      const [ws] = state.getWebSockets(`srv:${identity}`);
      return readServerAttachment(ws?.deserializeAttachment())?.concurrency ?? 0;
    });
    if (concurrency > 0) return;
    await sleep(10);
  }
  throw new Error(`${identity}'s ready was not applied within ${READY_WAIT_MS} ms`);
}

describe("QueueDO after a wake-up (a fresh instance over the same state)", {
  timeout: WAKE_TEST_TIMEOUT_MS,
}, () => {
  it("dispatches a request enqueued on the woken instance to a server connected before it slept", async () => {
    const server = await TestServer.connect("hib-q1", "w1", 2);
    await readyApplied("hib-q1", "w1");
    await runInDurableObject(queueStub("hib-q1"), async (_instance, state) => {
      const woken = new QueueDO(state, env);
      const [answer] = await woken.enqueue({
        queue: "hib-q1",
        from: "ann",
        requests: [request("a1", "hib-q1")],
      });
      expect(answer).toMatchObject({ id: "a1", ok: true });
    });
    const dispatch = await server.next("dispatch");
    expect(dispatch).toMatchObject({ from: "ann", attempt: 1 });
    server.close();
  });

  it("accepts the lessee's reply handled by a woken instance and delivers it to the client's outbox", async () => {
    const server = await TestServer.connect("hib-q2", "w1", 2);
    await queueStub("hib-q2").enqueue({
      queue: "hib-q2",
      from: "bea",
      requests: [request("b1", "hib-q2")],
    });
    const dispatch = await server.next("dispatch");
    await runInDurableObject(queueStub("hib-q2"), async (_instance, state) => {
      const woken = new QueueDO(state, env);
      const reply = { type: "reply", id: dispatch.id, body: encodeBody("after the nap") };
      await woken.webSocketMessage(serverSocket(state), JSON.stringify(reply));
    });
    expect(await outcomeFor("bea", "b1")).toEqual({
      type: "reply",
      id: "b1",
      body: encodeBody("after the nap"),
    });
    expect(server.pending("error")).toEqual([]);
    server.close();
  });

  it("renews a lease on extend and returns it on close, both handled by woken instances, redelivering as attempt 2", async () => {
    const first = await TestServer.connect("hib-q3", "w1", 1);
    await queueStub("hib-q3").enqueue({
      queue: "hib-q3",
      from: "cy",
      // A deadline past the lease, so a renewal can move the lease (it never passes the deadline).
      requests: [request("c1", "hib-q3", { timeout: 120_000 })],
    });
    const dispatch = await first.next("dispatch");
    const before = await runInDurableObject(queueStub("hib-q3"), (_i, state) =>
      leaseOf(state, "c1"),
    );
    // Let the clock move (workerd's advances between I/O), so a renewal ends later than `before`.
    await sleep(5);
    const extended = await runInDurableObject(queueStub("hib-q3"), async (_i, state) => {
      const woken = new QueueDO(state, env);
      await woken.webSocketMessage(
        serverSocket(state),
        JSON.stringify({ type: "extend", ids: [dispatch.id] }),
      );
      return leaseOf(state, "c1");
    });
    expect(extended.state).toBe("leased");
    expect(Number(extended.until)).toBeGreaterThan(Number(before.until));

    const second = await TestServer.connect("hib-q3", "w2", 1);
    await readyApplied("hib-q3", "w2");
    await runInDurableObject(queueStub("hib-q3"), async (_i, state) => {
      const woken = new QueueDO(state, env);
      const firstSocket = state
        .getWebSockets("srv:w1")
        .find((ws) => ws.readyState === WebSocket.OPEN);
      if (firstSocket === undefined) throw new Error("w1's socket is gone");
      await woken.webSocketClose(firstSocket, 1006);
    });
    expect(await second.next("dispatch")).toMatchObject({ from: "cy", attempt: 2 });
    first.close();
    second.close();
  });

  it("reclaims a lease that ran out in the alarm of a woken instance and dispatches the request again", async () => {
    const shortLease: Env & { EDGEMQ_LEASE_MS: string } = { ...env, EDGEMQ_LEASE_MS: "30" };
    const server = await TestServer.connect("hib-q4", "w1", 1);
    await readyApplied("hib-q4", "w1");
    await runInDurableObject(queueStub("hib-q4"), async (_i, state) => {
      await new QueueDO(state, shortLease).enqueue({
        queue: "hib-q4",
        from: "dot",
        requests: [request("d1", "hib-q4")],
      });
    });
    const firstDispatch = await server.next("dispatch");
    expect(firstDispatch.attempt).toBe(1);
    // Past the 30 ms lease: the woken instance's alarm must find it ended.
    await sleep(40);
    await runInDurableObject(queueStub("hib-q4"), async (_i, state) => {
      await new QueueDO(state, shortLease).alarm();
    });
    expect(await server.next("cancel")).toEqual({ type: "cancel", id: firstDispatch.id });
    expect(await server.next("dispatch")).toMatchObject({ id: firstDispatch.id, attempt: 2 });
    server.close();
  });

  it("makes the outcomes a link got before the object slept due at once when that link closes on a woken instance", async () => {
    const queue = "hib-link-close";
    const server = await TestServer.connect(queue, "w1", 1);
    await readyApplied(queue, "w1");
    const link = await TestSocket.open(`/v1/queues/${queue}/connect?identity=lee`);
    await link.next(); // welcome
    link.send(request("l1", queue));
    const dispatch = await server.next("dispatch");
    server.send({ type: "reply", id: dispatch.id, body: encodeBody("for lee") });
    for (let frame = await link.next(); ; frame = await link.next()) {
      if ((frame as { type?: unknown }).type === "reply") break;
    }
    // The reply went down the link before it was written (early-finishes.ts): wait for the write.
    const until = Date.now() + READY_WAIT_MS;
    while (Date.now() < until) {
      const written = await runInDurableObject(queueStub(queue), (_i, state) =>
        state.storage.sql
          .exec("SELECT 1 FROM requests WHERE client_id = 'l1' AND outcome IS NOT NULL")
          .toArray(),
      );
      if (written.length > 0) break;
      await sleep(20);
    }
    // Unacked on an open link, its outcome waits for the ack (the retry moved on, as the ack wait
    // does); then the object sleeps, and forgets which link it was sent on.
    const later = Date.now() + 60_000;
    const due = await runInDurableObject(queueStub(queue), async (_i, state) => {
      state.storage.sql.exec("UPDATE requests SET deliver_at = ? WHERE client_id = 'l1'", later);
      const [ws] = state.getWebSockets(LINK_TAG);
      if (ws === undefined) throw new Error("no link socket");
      const woken = new QueueDO(state, env);
      await woken.webSocketClose(ws, 1006);
      // Writes the object holds for its next event (held-writes.ts), so SQLite shows them.
      (woken as unknown as { state: { writeHeld(): void } }).state.writeHeld();
      const row = state.storage.sql
        .exec("SELECT deliver_at FROM requests WHERE client_id = 'l1'")
        .one();
      return row.deliver_at;
    });
    expect(Number(due)).toBeLessThanOrEqual(Date.now());
    server.close();
  });

  it("answers ping with pong by auto-response, without running the object's message handler", async () => {
    const server = await TestServer.connect("hib-q5", "w1", 0);
    const pong = new Promise<unknown>((resolve) => {
      server.ws.addEventListener("message", (event) => {
        if (event.data === "pong") resolve(event.data);
      });
    });
    server.send("ping");
    expect(await pong).toBe("pong");
    const seen = await runInDurableObject(queueStub("hib-q5"), (_i, state) => {
      const pair = state.getWebSocketAutoResponse();
      return {
        request: pair?.request,
        response: pair?.response,
        stamped: state.getWebSocketAutoResponseTimestamp(serverSocket(state)) !== null,
      };
    });
    expect(seen).toEqual({ request: "ping", response: "pong", stamped: true });
    // A handled message would have been answered with an error frame ("ping" is not JSON).
    expect(server.pending("error")).toEqual([]);
    server.close();
  });
});

describe("ExchangeDO after a wake-up (a fresh instance over the same state)", {
  timeout: WAKE_TEST_TIMEOUT_MS,
}, () => {
  const reply = (to: string, id: string): Outcome => ({
    to,
    frame: { type: "reply", id, body: encodeBody(`answer ${id}`) },
  });

  it("delivers an outcome from a woken instance to the client socket opened before it slept, and forgets it on ack", async () => {
    const { socket } = await TestSocket.client("hib-eve");
    const left = await runInDurableObject(exchange(), async (_i, state) => {
      await new ExchangeDO(state, env).deliver([reply("hib-eve", "e1")]);
      const [ws] = state.getWebSockets("id:hib-eve");
      if (ws === undefined) throw new Error("hib-eve's socket is gone");
      const woken = new ExchangeDO(state, env);
      await woken.webSocketMessage(ws, JSON.stringify({ type: "ack", ids: ["e1"] }));
      // Acks are deleted with the next write, or by a timer or the alarm (deferred-acks.ts).
      await woken.alarm();
      return state.storage.sql
        .exec("SELECT COUNT(*) AS n FROM outbox WHERE identity = 'hib-eve'")
        .one().n;
    });
    expect(await socket.next()).toEqual(reply("hib-eve", "e1").frame);
    expect(left).toBe(0);
    socket.close();
  });

  it("forwards a request handled by a woken instance to its queue and answers accepted", async () => {
    const { socket } = await TestSocket.client("hib-fay");
    await runInDurableObject(exchange(), async (_i, state) => {
      const [ws] = state.getWebSockets("id:hib-fay");
      if (ws === undefined) throw new Error("hib-fay's socket is gone");
      await new ExchangeDO(state, env).webSocketMessage(
        ws,
        JSON.stringify(request("f1", "hib-q6")),
      );
    });
    expect(await socket.next()).toMatchObject({ type: "accepted", id: "f1" });
    socket.close();
  });

  it("replays the outbox kept across a wake-up (and its alarm) to a client that reconnects", async () => {
    const { socket } = await TestSocket.client("hib-gus");
    socket.close();
    await socket.closed;
    await runInDurableObject(exchange(), async (_i, state) => {
      await new ExchangeDO(state, env).deliver([reply("hib-gus", "g1"), reply("hib-gus", "g2")]);
      await new ExchangeDO(state, env).alarm();
    });
    const again = await TestSocket.client("hib-gus");
    expect(await again.socket.take(2)).toEqual([
      reply("hib-gus", "g1").frame,
      reply("hib-gus", "g2").frame,
    ]);
    again.socket.close();
  });
  it("answers ping with pong by auto-response on a client socket too", async () => {
    const { socket } = await TestSocket.client("hib-hal");
    socket.send("ping");
    expect(await socket.next()).toBe("pong");
    const stamped = await runInDurableObject(exchange(), (_i, state) => {
      const [ws] = state.getWebSockets("id:hib-hal");
      return ws !== undefined && state.getWebSocketAutoResponseTimestamp(ws) !== null;
    });
    expect(stamped).toBe(true);
    socket.close();
  });
});
