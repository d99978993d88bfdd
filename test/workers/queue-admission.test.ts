/**
 * QueueDO admission in workerd, in both delivery modes: the per-client in-flight limit counts a
 * client's live requests (kept in memory by the stores: live-counts.ts), frees a place when one
 * ends, and, for a durable queue, counts what SQLite holds after the object restarts. The queue's
 * depth limit (maxQueueDepth) counts the live requests of all its clients.
 */

import { abortAllDurableObjects } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS } from "../../protocol/index.js";
import { request, TestServer } from "./queue-test-server.js";

const queueStub = (queue: string) => env.QUEUE.getByName(queue);
const LIMIT = DEFAULT_LIMITS.maxInFlightPerClient;

/** Enqueues `n` requests from `from` in one call (ids prefix-0 ... prefix-(n-1)). */
function enqueueMany(queue: string, from: string, prefix: string, n: number) {
  const requests = Array.from({ length: n }, (_, i) => request(`${prefix}-${i}`, queue));
  return queueStub(queue).enqueue({ queue, from, requests });
}

describe.each([
  { mode: "durable", queue: "adm-1" },
  { mode: "memory", queue: "mem-adm-1" },
])("QueueDO admission ($mode)", ({ queue }) => {
  it("refuses too_many_in_flight at a client's limit, per client, and admits again once one of its requests ends", async () => {
    const idle = await TestServer.connect(queue, "w1", 0);
    const first = await enqueueMany(queue, "alice", "a", LIMIT);
    expect(first.every((answer) => answer.ok)).toBe(true);

    const [over] = await enqueueMany(queue, "alice", "over", 1);
    expect(over).toMatchObject({ ok: false, error: { code: "too_many_in_flight" } });
    const [bob] = await enqueueMany(queue, "bob", "b", 1);
    expect(bob).toMatchObject({ ok: true });

    await queueStub(queue).cancel({ queue, from: "alice", ids: ["a-0"] });
    const [again] = await enqueueMany(queue, "alice", "again", 1);
    expect(again).toMatchObject({ ok: true });
    const [full] = await enqueueMany(queue, "alice", "full", 1);
    expect(full).toMatchObject({ ok: false, error: { code: "too_many_in_flight" } });
    idle.close();
  });
});

describe("QueueDO admission after a restart (durable)", () => {
  it("counts the live requests SQLite holds once the object starts again", async () => {
    const queue = "adm-2";
    const idle = await TestServer.connect(queue, "w1", 0);
    expect((await enqueueMany(queue, "carol", "c", LIMIT)).every((a) => a.ok)).toBe(true);
    idle.close();
    await abortAllDurableObjects();

    const [over] = await enqueueMany(queue, "carol", "over", 1);
    expect(over).toMatchObject({ ok: false, error: { code: "too_many_in_flight" } });
    await queueStub(queue).cancel({ queue, from: "carol", ids: ["c-7"] });
    const [again] = await enqueueMany(queue, "carol", "again", 1);
    expect(again).toMatchObject({ ok: true });
  });
});

describe.each([
  { mode: "durable", queue: "adm-resends" },
  { mode: "memory", queue: "mem-adm-resends" },
])("QueueDO enqueue with resendsOnly ($mode)", ({ queue }) => {
  it("answers a request it holds as stored, refuses a new one with the given message, and stores nothing", async () => {
    const [stored] = await enqueueMany(queue, "carol", "kept", 1);
    if (!stored?.ok) throw new Error("not stored");
    const resendsOnly = "outcomes wait for your ack";
    const answers = await queueStub(queue).enqueue({
      queue,
      from: "carol",
      requests: [request("kept-0", queue), request("new-0", queue)],
      resendsOnly,
    });
    expect(answers).toEqual([
      { id: "kept-0", ok: true, deadline: stored.deadline, resent: true },
      { id: "new-0", ok: false, error: { code: "too_many_in_flight", message: resendsOnly } },
    ]);
    // new-0 was not stored: sent again without the flag, it is a new request.
    const [later] = await enqueueMany(queue, "carol", "new", 1);
    expect(later).toMatchObject({ ok: true });
    const server = await TestServer.connect(queue, "w-resends", 10);
    const ids = [(await server.next("dispatch")).id, (await server.next("dispatch")).id];
    expect(ids).toHaveLength(2);
    server.close();
  });
});

describe.each([
  { mode: "durable", queue: "adm-full" },
  { mode: "memory", queue: "mem-adm-full" },
])("QueueDO queue depth ($mode)", ({ queue }) => {
  it("refuses queue_full once the queue holds maxQueueDepth live requests of several clients, and admits again once one ends", async () => {
    const idle = await TestServer.connect(queue, "w1", 0);
    const senders = Math.ceil(DEFAULT_LIMITS.maxQueueDepth / LIMIT);
    for (let s = 0; s < senders; s++) {
      const n = Math.min(LIMIT, DEFAULT_LIMITS.maxQueueDepth - s * LIMIT);
      const answers = await enqueueMany(queue, `sender-${s}`, "d", n);
      expect(answers.every((answer) => answer.ok)).toBe(true);
    }
    // A client with nothing in flight: only the queue's depth can refuse it.
    const [over] = await enqueueMany(queue, "newcomer", "n", 1);
    expect(over).toMatchObject({ ok: false, error: { code: "queue_full" } });

    await queueStub(queue).cancel({ queue, from: "sender-0", ids: ["d-0"] });
    const [again] = await enqueueMany(queue, "newcomer", "again", 1);
    expect(again).toMatchObject({ ok: true });
    const [full] = await enqueueMany(queue, "late", "l", 1);
    expect(full).toMatchObject({ ok: false, error: { code: "queue_full" } });
    idle.close();
  });
});
