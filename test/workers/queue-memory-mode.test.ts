/**
 * The `memory` delivery mode (EDGEMQ_QUEUE_MODES; the workers project maps `mem-*` queues to it):
 * the same dispatch, reply, deadline, redelivery and resend rules as a durable queue, with
 * nothing written to the queue's `requests` table or the exchange's `outbox` table.
 */
import { abortAllDurableObjects, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { encodeBody } from "../../protocol/index.js";
import { TestSocket } from "./exchange-test-socket.js";
import { request, TestServer } from "./queue-test-server.js";

function storedRequests(queue: string): Promise<unknown> {
  return runInDurableObject(env.QUEUE.getByName(queue), (_instance, state) => {
    return state.storage.sql.exec("SELECT COUNT(*) AS n FROM requests").one().n;
  });
}

function storedOutcomes(identity: string): Promise<unknown> {
  return runInDurableObject(env.EXCHANGE.getByName("exchange"), (_instance, state) => {
    const q = "SELECT COUNT(*) AS n FROM outbox WHERE identity = ?";
    return state.storage.sql.exec(q, identity).one().n;
  });
}

/** Frames of `socket` until one matches `type` and `id` (earlier ones are returned too). */
async function until(socket: TestSocket, type: string, id: string): Promise<unknown> {
  for (;;) {
    const frame = await socket.next();
    if (typeof frame === "object" && frame !== null && "type" in frame && "id" in frame) {
      if (frame.type === type && frame.id === id) return frame;
    }
  }
}

describe("memory delivery mode", () => {
  it("dispatches and brings the reply to the client without storing the request or the outcome", async () => {
    const server = await TestServer.connect("mem-echo", "w1");
    const { socket: client } = await TestSocket.client("mem-alice");
    client.send(request("r1", "mem-echo"));
    expect(await client.next()).toMatchObject({ type: "accepted", id: "r1" });
    const dispatch = await server.next("dispatch");
    expect(dispatch).toMatchObject({ from: "mem-alice", queue: "mem-echo", attempt: 1 });
    server.send({ type: "reply", id: dispatch.id, body: encodeBody("pong") });
    expect(await client.next()).toEqual({ type: "reply", id: "r1", body: encodeBody("pong") });
    expect(await storedRequests("mem-echo")).toBe(0);
    expect(await storedOutcomes("mem-alice")).toBe(0);
    client.send({ type: "ack", ids: ["r1"] });
    client.close();
    server.close();
  });

  it("ends a request that gets no reply by its deadline with timeout", async () => {
    const server = await TestServer.connect("mem-slow", "w1");
    const { socket: client } = await TestSocket.client("mem-bob");
    client.send(request("r1", "mem-slow", { timeout: 200 }));
    await server.next("dispatch");
    expect(await until(client, "error", "r1")).toMatchObject({ code: "timeout" });
    client.close();
    server.close();
  });

  it("gives a request held by a server that disconnects to another server as attempt 2", async () => {
    const first = await TestServer.connect("mem-redo", "w1", 1);
    const { socket: client } = await TestSocket.client("mem-carol");
    client.send(request("r1", "mem-redo"));
    const lost = await first.next("dispatch");
    const second = await TestServer.connect("mem-redo", "w2", 1);
    first.close();
    const again = await second.next("dispatch");
    expect(again).toMatchObject({ id: lost.id, attempt: 2 });
    second.send({ type: "reply", id: again.id, body: encodeBody("done") });
    expect(await until(client, "reply", "r1")).toMatchObject({ body: encodeBody("done") });
    client.close();
    second.close();
  });

  it("never gives a request after a restart a dispatch id from before it", async () => {
    const before = await TestServer.connect("mem-restart", "w1");
    const { socket: alice } = await TestSocket.client("mem-erin");
    alice.send(request("r1", "mem-restart"));
    const old = await before.next("dispatch");
    await abortAllDurableObjects(); // the relay restarts: a memory queue forgets r1
    const after = await TestServer.connect("mem-restart", "w1");
    const { socket: bob } = await TestSocket.client("mem-fred");
    bob.send(request("r1", "mem-restart"));
    const fresh = await after.next("dispatch");
    expect(fresh.from).toBe("mem-fred");
    expect(fresh.id).not.toBe(old.id);
    // The server's handler from before the restart answers late, on its new socket: refused,
    // and bob never sees it.
    after.send({ type: "reply", id: old.id, body: encodeBody("for erin") });
    expect(await after.next("error")).toMatchObject({ id: old.id, code: "forbidden" });
    after.send({ type: "reply", id: fresh.id, body: encodeBody("for fred") });
    expect(await until(bob, "reply", "r1")).toMatchObject({ body: encodeBody("for fred") });
    bob.close();
    after.close();
  });

  it("answers a resend of a known id with the same deadline and runs it once", async () => {
    const server = await TestServer.connect("mem-dedup", "w1");
    const stub = env.QUEUE.getByName("mem-dedup");
    const input = { queue: "mem-dedup", from: "mem-dan", requests: [request("r1", "mem-dedup")] };
    const [first] = await stub.enqueue(input);
    const [second] = await stub.enqueue(input);
    expect(first).toMatchObject({ id: "r1", ok: true });
    expect(second).toEqual({ ...first, resent: true });
    await server.next("dispatch");
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.pending("dispatch")).toHaveLength(0);
    server.close();
  });

  it("refuses new requests with queue_full past its memory budget, and takes them again once bodies go", async () => {
    const queue = "mem-budget";
    const stub = env.QUEUE.getByName(queue);
    const body = { enc: "utf8" as const, data: "x".repeat(1_000_000) };
    const big = (id: string) => request(id, queue, { body, timeout: 60_000 });
    // 33 one-megabyte bodies fit in 32 MiB; no server takes them meanwhile.
    const ids = Array.from({ length: 33 }, (_, i) => `b${i}`);
    for (let i = 0; i < ids.length; i += 8) {
      const answers = await stub.enqueue({
        queue,
        from: "mem-gina",
        requests: ids.slice(i, i + 8).map(big),
      });
      expect(answers.every((a) => a.ok)).toBe(true);
    }
    const [full] = await stub.enqueue({ queue, from: "mem-hal", requests: [big("over")] });
    expect(full).toMatchObject({ id: "over", ok: false, error: { code: "queue_full" } });
    expect(full?.ok === false && full.error.message).toMatch(
      /32 Mi characters of bodies and outcomes/,
    );
    // A server takes and answers them (small replies): the bodies go, and so does the refusal.
    const server = await TestServer.connect(queue, "w1", 40);
    for (const _ of ids) {
      const dispatch = await server.next("dispatch");
      server.send({ type: "reply", id: dispatch.id, body: encodeBody("ok") });
    }
    let again: Awaited<ReturnType<typeof stub.enqueue>>[number] | undefined;
    for (let tries = 0; tries < 100; tries++) {
      [again] = await stub.enqueue({ queue, from: "mem-hal", requests: [big(`again-${tries}`)] });
      if (again?.ok) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(again).toMatchObject({ ok: true });
    server.close();
  });
});
