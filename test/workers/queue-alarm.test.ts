/**
 * The durable queue's one alarm (queue-alarm.ts) moves earlier as requests bring earlier moments
 * (a deadline, a lease end), known from what the store just wrote, without reading the timers back;
 * an alarm long overdue (the platform dropped it) is set again by the next event.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ALARM_OVERDUE_MS } from "../../durable-objects/shared/alarm.js";
import { encodeBody } from "../../protocol/index.js";
import { idOf, linkSocket, serverSocket } from "./exchange-test-socket.js";
import { request, TestServer } from "./queue-test-server.js";

const queueStub = (queue: string) => env.QUEUE.getByName(queue);

function alarmOf(queue: string): Promise<number | null> {
  return runInDurableObject(queueStub(queue), (_instance, state) => state.storage.getAlarm());
}

function rowsOf(queue: string): Promise<Record<string, SqlStorageValue>[]> {
  return runInDurableObject(queueStub(queue), (_instance, state) =>
    state.storage.sql.exec("SELECT client_id, deadline, lease_until FROM requests").toArray(),
  );
}

function stateOf(queue: string, id: string): Promise<SqlStorageValue> {
  return runInDurableObject(queueStub(queue), (_instance, state) => {
    const row = state.storage.sql.exec("SELECT state FROM requests WHERE client_id = ?", id).one();
    return row.state ?? null;
  });
}

/** The state of request `id` once the queue's alarm, if one is set, has run (a bounded wait). */
async function stateOnceAlarmed(queue: string, id: string): Promise<SqlStorageValue> {
  let state: SqlStorageValue = null;
  for (let i = 0; i < 20; i++) {
    await runDurableObjectAlarm(queueStub(queue));
    state = await stateOf(queue, id);
    if (state === "done") return state;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return state;
}

describe("QueueDO alarm (durable queue)", () => {
  it("moves the alarm to an earlier deadline brought by a later request", async () => {
    const q = "alarm-deadline";
    const [late] = await queueStub(q).enqueue({
      queue: q,
      from: "al",
      requests: [request("late", q, { timeout: 120_000 })],
    });
    if (late === undefined || !late.ok) throw new Error("late not accepted");
    expect(await alarmOf(q)).toBe(late.deadline);

    const [soon] = await queueStub(q).enqueue({
      queue: q,
      from: "al",
      requests: [request("soon", q, { timeout: 5_000 })],
    });
    if (soon === undefined || !soon.ok) throw new Error("soon not accepted");
    expect(soon.deadline).toBeLessThan(late.deadline);
    expect(await alarmOf(q)).toBe(soon.deadline);
  });

  it("moves the alarm to a lease end earlier than every deadline when a request is dispatched", async () => {
    const q = "alarm-lease";
    await queueStub(q).enqueue({
      queue: q,
      from: "al",
      requests: [request("long", q, { timeout: 200_000 })],
    });
    const server = await TestServer.connect(q, "w1", 1);
    await server.next("dispatch");
    const [row] = await rowsOf(q);
    const leaseUntil = Number(row?.lease_until);
    expect(leaseUntil).toBeLessThan(Number(row?.deadline));
    expect(await alarmOf(q)).toBe(leaseUntil);
    server.close();
  });

  it("sets the alarm for a request whose writes were held, in the first event after a wake", async () => {
    const q = "alarm-held";
    const worker = await serverSocket(q, "w-held");
    const client = await linkSocket(q, "c-held");
    // A quiet partition holds the request's writes (held-writes.ts): SQLite has no timers yet
    // when this event sets the alarm, so the held row's lease end must come from the store.
    client.send({ type: "request", id: "slow", queue: q, body: encodeBody(1), timeout: 120_000 });
    const dispatch = await worker.next();
    expect(idOf(dispatch)).toBeTypeOf("string");
    await new Promise((resolve) => setTimeout(resolve, 50));
    const [row] = await rowsOf(q);
    expect(row?.client_id).toBe("slow");
    expect(await alarmOf(q)).toBe(Number(row?.lease_until));
    client.close();
    worker.close();
  });

  it("sets the alarm again when the one it set is long overdue and gone, so the request still times out", async () => {
    const q = "alarm-lost";
    const [lost] = await queueStub(q).enqueue({
      queue: q,
      from: "al",
      requests: [request("lost", q, { timeout: 50 })],
    });
    if (lost === undefined || !lost.ok) throw new Error("lost not accepted");
    expect(await alarmOf(q)).toBe(lost.deadline);
    // The platform drops the alarm without running it (as after an alarm handler failed too
    // often; a wrangler dev relay was seen keeping a past alarm time it never ran): the queue
    // object still remembers it as set.
    await runInDurableObject(queueStub(q), (_instance, state) => state.storage.deleteAlarm());
    await new Promise((resolve) => setTimeout(resolve, 50 + ALARM_OVERDUE_MS + 200));

    // The next event sees the alarm it remembers long overdue and sets one again.
    await queueStub(q).enqueue({
      queue: q,
      from: "al",
      requests: [request("later", q, { timeout: 120_000 })],
    });
    // Whether workerd runs the alarm by itself or the test does, "lost" ends at its deadline.
    expect(await stateOnceAlarmed(q, "lost")).toBe("done");
    expect(await stateOf(q, "later")).toBe("queued");
  });
});
