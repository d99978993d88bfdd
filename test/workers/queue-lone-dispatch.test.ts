/**
 * Requests on their last allowed dispatch after lost leases run alone, in workerd: a poison
 * request that crashes every server it reaches no longer takes the requests dispatched beside it
 * down with it; a server is kept free (given nothing new) until it can take such a request; and
 * an HTTP server holding leases drains for one when no socket server can, then takes nothing
 * else while it runs it.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { http } from "./http-test-peer.js";
import { outcomeFor, request, TestServer } from "./queue-test-server.js";

const queueStub = (queue: string) => env.QUEUE.getByName(queue);

async function enqueue(queue: string, from: string, ids: string[]): Promise<void> {
  const answers = await queueStub(queue).enqueue({
    queue,
    from,
    requests: ids.map((id) => request(id, queue)),
  });
  for (const answer of answers) expect(answer).toMatchObject({ ok: true });
}

/** The client id a dispatch carries in its body (queue-test-server.ts request()). */
function clientIdOf(frame: { body: { data: string } }): string {
  return String(JSON.parse(frame.body.data).id);
}

/** Lets every lease run out (as if its claim grace had passed) and runs the queue's alarm. */
async function endGraces(queue: string): Promise<void> {
  await runInDurableObject(queueStub(queue), (_instance, state) => {
    state.storage.sql.exec("UPDATE requests SET lease_until = 1 WHERE state = 'leased'");
  });
  await runDurableObjectAlarm(queueStub(queue));
}

/** Servers `names` each take what they can of `queue`, then drop (a crash, to the relay). */
async function crashServers(queue: string, names: string[], concurrency: number): Promise<void> {
  for (const name of names) {
    const server = await TestServer.connect(queue, name, concurrency);
    await server.next("dispatch");
    server.close();
    await server.closed;
  }
}

describe("requests that run alone", () => {
  it("fails only the poison request when it crashes its server a third time, not the requests dispatched beside it", async () => {
    const queue = "alone-poison";
    await enqueue(queue, "pia", ["p", "a", "b"]);
    await crashServers(queue, ["w1", "w2"], 10); // each took all three and crashed
    const third = await TestServer.connect(queue, "w3", 10);
    const first = await third.next("dispatch");
    expect({ id: clientIdOf(first), attempt: first.attempt }).toEqual({ id: "p", attempt: 3 });
    expect(third.pending("dispatch")).toEqual([]);
    expect(await queueStub(queue).stats()).toMatchObject({ leased: 1, queued: 2 });
    third.close(); // p crashes it too
    await third.closed;
    await endGraces(queue);
    expect(await outcomeFor("pia", "p")).toMatchObject({ type: "error", code: "server_error" });

    const fourth = await TestServer.connect(queue, "w4", 10);
    for (const expected of ["a", "b"]) {
      const dispatch = await fourth.next("dispatch");
      expect({ id: clientIdOf(dispatch), attempt: dispatch.attempt }).toEqual({
        id: expected,
        attempt: 3,
      });
      expect(fourth.pending("dispatch")).toEqual([]);
      fourth.send({ type: "reply", id: dispatch.id, body: { enc: "json", data: '"ok"' } });
    }
    for (const id of ["a", "b"]) {
      expect(await outcomeFor("pia", id)).toMatchObject({ type: "reply", id });
    }
    fourth.close();
  });

  it("keeps a busy server free until it drains, runs the request alone on it, then serves the rest", async () => {
    const queue = "alone-drain";
    const worker = await TestServer.connect(queue, "worker", 1);
    await enqueue(queue, "dan", ["n1"]);
    const n1 = await worker.next("dispatch");
    await enqueue(queue, "dan", ["last"]);
    await crashServers(queue, ["x1", "x2"], 1); // "last" lost two leases: it runs alone now
    worker.send({ type: "ready", concurrency: 2 }); // room for one more, but kept free
    await enqueue(queue, "dan", ["n2"]);
    expect(await queueStub(queue).stats()).toMatchObject({ leased: 1, queued: 2 });
    expect(worker.pending("dispatch")).toEqual([]);

    worker.send({ type: "reply", id: n1.id, body: { enc: "json", data: "1" } });
    const last = await worker.next("dispatch");
    expect({ id: clientIdOf(last), attempt: last.attempt }).toEqual({ id: "last", attempt: 3 });
    expect(await queueStub(queue).stats()).toMatchObject({ leased: 1, queued: 1 });
    expect(worker.pending("dispatch")).toEqual([]);

    worker.send({ type: "reply", id: last.id, body: { enc: "json", data: "2" } });
    expect(clientIdOf(await worker.next("dispatch"))).toBe("n2");
    expect(await outcomeFor("dan", "last")).toMatchObject({ type: "reply", id: "last" });
    worker.close();
  });

  it("has an HTTP server that holds leases drain for it when no socket server can, then take nothing else beside it", async () => {
    const queue = "alone-http";
    const take = () => http(`/v1/queues/${queue}/take?wait=0`, { identity: "h1" });
    const reply = (id: string) =>
      http(`/v1/queues/${queue}/replies/${id}`, { identity: "h1", body: "ok" });
    await enqueue(queue, "hal", ["n1"]);
    const n1 = await take();
    expect(await n1.text()).toBe('{"id":"n1"}');
    await enqueue(queue, "hal", ["last", "n2"]);
    await crashServers(queue, ["x1", "x2"], 1); // each took "last" (the older) and crashed
    expect((await take()).status).toBe(204); // holds n1: drains, n2 waits too

    const n1Id = n1.headers.get("EdgeMQ-Request-Id") ?? "";
    expect((await reply(n1Id)).status).toBe(204);
    const last = await take();
    expect(await last.text()).toBe('{"id":"last"}');
    expect(last.headers.get("EdgeMQ-Attempt")).toBe("3");
    expect((await take()).status).toBe(204); // runs it alone

    expect((await reply(last.headers.get("EdgeMQ-Request-Id") ?? "")).status).toBe(204);
    expect(await (await take()).text()).toBe('{"id":"n2"}');
  });
});
