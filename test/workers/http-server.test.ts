/**
 * The HTTP API for servers in workerd: take and reply serve a WebSocket client's request and an
 * HTTP client's request, an empty take answers 204, a waiting take receives a request enqueued
 * meanwhile and counts as a connected server (as does a busy server's presence call, on one
 * partition or all), and replies follow the lease rules (404 not this
 * server's, 409 already answered or cancelled, 410 deadline passed). Waiting takes are served
 * before WebSocket servers, longest waiting first, and at most 1,000 may wait on one queue. A server
 * that leaves (DELETE .../takes) ends its waiting takes and stops counting as connected.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { HttpTakers } from "../../durable-objects/queue/http-takers.js";
import { partitionOf } from "../../durable-objects/shared/queue-partitions.js";
import { encodeBody } from "../../protocol/index.js";
import { TestSocket } from "./exchange-test-socket.js";
import { expectError, field, http, sleep, wsServer } from "./http-test-peer.js";

function take(queue: string, identity: string, wait = 0): Promise<Response> {
  return http(`/v1/queues/${queue}/take?wait=${wait}`, { identity });
}

function reply(queue: string, identity: string, id: string, body: string, type?: string) {
  const call = type === undefined ? { identity, body } : { identity, body, contentType: type };
  return http(`/v1/queues/${queue}/replies/${id}`, call);
}

/** A client identity whose requests land on `partition` of a 2-partition queue. */
function clientOn(partition: number): string {
  for (let i = 0; ; i++)
    if (partitionOf(`presence-client-${i}`, 2) === partition) return `presence-client-${i}`;
}

async function asyncRequest(
  queue: string,
  identity: string,
  query = "",
  payload = '{"job":1}',
): Promise<string> {
  const response = await http(`/v1/queues/${queue}/requests?async=true${query}`, {
    identity,
    contentType: "application/json",
    body: payload,
  });
  expect(response.status).toBe(202);
  const body: unknown = await response.json();
  const id = field(body, "id");
  if (typeof id !== "string") throw new Error("202 without an id");
  return id;
}

describe("HTTP servers", () => {
  it("take and reply serve a WebSocket client's request, headers and Content-Type included", async () => {
    const { socket: client } = await TestSocket.client("ws-client-1");
    client.send({
      type: "request",
      id: "r1",
      queue: "hs-ws",
      body: { enc: "json", data: '{"a":1}' },
    });
    expect(await client.next()).toMatchObject({ type: "accepted", id: "r1" });

    const taken = await take("hs-ws", "curl-worker-1", 5_000);
    expect(taken.status).toBe(200);
    expect(taken.headers.get("content-type")).toBe("application/json");
    expect(taken.headers.get("EdgeMQ-From")).toBe("ws-client-1");
    expect(taken.headers.get("EdgeMQ-Attempt")).toBe("1");
    expect(taken.headers.get("EdgeMQ-Partitions")).toBe("1");
    expect(taken.headers.get("EdgeMQ-Partition")).toBe("0");
    expect(Number(taken.headers.get("EdgeMQ-Deadline"))).toBeGreaterThan(0);
    expect(await taken.json()).toEqual({ a: 1 });
    const id = taken.headers.get("EdgeMQ-Request-Id") ?? "";

    const answered = await reply("hs-ws", "curl-worker-1", id, "<p>done</p>", "text/html");
    expect(answered.status).toBe(204);
    expect(answered.headers.get("EdgeMQ-Request-Id")).toBe(id);
    expect(await client.next()).toEqual({
      type: "reply",
      id: "r1",
      body: { enc: "utf8", data: "<p>done</p>", type: "text/html" },
    });
    client.close();
  });

  it("serves an HTTP client's request from an HTTP server, end to end over plain HTTP", async () => {
    const pending = http("/v1/queues/hs-http/requests", {
      identity: "curl-client",
      contentType: "text/csv",
      body: "a,b\n1,2\n",
    });
    const taken = await take("hs-http", "curl-worker-2", 5_000);
    expect(taken.headers.get("content-type")).toBe("text/csv");
    expect(await taken.text()).toBe("a,b\n1,2\n");
    const id = taken.headers.get("EdgeMQ-Request-Id") ?? "";
    expect((await reply("hs-http", "curl-worker-2", id, "[3]", "application/json")).status).toBe(
      204,
    );
    const response = await pending;
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual([3]);
  });

  it("answers an empty take with 204, at once or after its wait, naming partition 0 of 1", async () => {
    for (const wait of [0, 30]) {
      const empty = await take("hs-empty", "curl-worker-3", wait);
      expect(empty.status).toBe(204);
      expect(empty.headers.get("EdgeMQ-Partitions")).toBe("1");
      expect(empty.headers.get("EdgeMQ-Partition")).toBe("0");
    }
  });

  it("hands a request enqueued during a waiting take to that take", async () => {
    const waiting = take("hs-wait", "curl-worker-4", 10_000);
    await sleep(50);
    await asyncRequest("hs-wait", "curl-client-4");
    const taken = await waiting;
    expect(taken.status).toBe(200);
    expect(taken.headers.get("EdgeMQ-From")).toBe("curl-client-4");
  });

  it("counts a waiting take as a connected server, so failFast is accepted", async () => {
    const waiting = take("hs-present", "curl-worker-5", 10_000);
    await sleep(50);
    const id = await asyncRequest("hs-present", "curl-client-5", "&failFast=true");
    expect((await waiting).headers.get("EdgeMQ-From")).toBe("curl-client-5");
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("counts a presence call as a connected server, so failFast is accepted", async () => {
    const before = await http("/v1/queues/hs-presence/requests?failFast=true", {
      identity: "curl-client-p",
      body: "q",
    });
    await expectError(before, 503, "no_responders");
    const present = await http("/v1/queues/hs-presence/presence", { identity: "busy-worker" });
    expect(present.status).toBe(204);
    expect(present.headers.get("EdgeMQ-Partitions")).toBe("1");
    const id = await asyncRequest("hs-presence", "curl-client-p", "&failFast=true");
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("marks every partition present when a presence call names none, one when it names it", async () => {
    // part-* queues have 2 partitions (vitest.config.ts); these clients hash to 0 and to 1.
    const [onZero, onOne] = [clientOn(0), clientOn(1)];
    const named = await http("/v1/queues/part-presence-1/presence?partition=1", {
      identity: "busy-worker",
    });
    expect(named.status).toBe(204);
    expect(named.headers.get("EdgeMQ-Partitions")).toBe("2");
    const refused = await http("/v1/queues/part-presence-1/requests?failFast=true", {
      identity: onZero,
      body: "q",
    });
    await expectError(refused, 503, "no_responders");
    await asyncRequest("part-presence-1", onOne, "&failFast=true");

    const all = await http("/v1/queues/part-presence-2/presence", { identity: "busy-worker" });
    expect(all.status).toBe(204);
    for (const client of [onZero, onOne]) {
      await asyncRequest("part-presence-2", client, "&failFast=true");
    }
  });

  it("refuses a presence call on a partition the queue does not have with 400", async () => {
    const response = await http("/v1/queues/part-presence-3/presence?partition=2", {
      identity: "busy-worker",
    });
    await expectError(response, 400, "bad_request");
  });

  it("refuses a reply from a server the request was not dispatched to with 404", async () => {
    await asyncRequest("hs-other", "curl-client-6");
    const taken = await take("hs-other", "curl-worker-6", 5_000);
    const id = taken.headers.get("EdgeMQ-Request-Id") ?? "";
    await expectError(await reply("hs-other", "someone-else", id, "x"), 404, "not_found");
    await expectError(await reply("hs-other", "curl-worker-6", "999999", "x"), 404, "not_found");
    expect((await reply("hs-other", "curl-worker-6", id, "x")).status).toBe(204);
  });

  it("refuses a second reply to the same request with 409 conflict", async () => {
    const pending = http("/v1/queues/hs-twice/requests", { identity: "curl-client-7", body: "q" });
    const taken = await take("hs-twice", "curl-worker-7", 5_000);
    const id = taken.headers.get("EdgeMQ-Request-Id") ?? "";
    expect((await reply("hs-twice", "curl-worker-7", id, "first")).status).toBe(204);
    await expectError(await reply("hs-twice", "curl-worker-7", id, "second"), 409, "conflict");
    expect(await (await pending).text()).toBe("first");
  });

  it("refuses with 409 conflict a reply to a request its client cancelled meanwhile", async () => {
    const clientId = await asyncRequest("hs-cancelled", "curl-client-9");
    const taken = await take("hs-cancelled", "curl-worker-9", 5_000);
    const id = taken.headers.get("EdgeMQ-Request-Id") ?? "";
    const cancelled = await http(`/v1/queues/hs-cancelled/requests/${clientId}`, {
      identity: "curl-client-9",
      method: "DELETE",
    });
    expect(cancelled.status).toBe(204);
    const refused = await reply("hs-cancelled", "curl-worker-9", id, "too late");
    await expectError(refused, 409, "conflict");
    const outcome = await http(`/v1/requests/${clientId}`, {
      identity: "curl-client-9",
      method: "GET",
    });
    await expectError(outcome, 499, "cancelled");
  });

  it("refuses a reply after the request's deadline with 410 expired", async () => {
    const pending = http("/v1/queues/hs-late/requests?timeout=100", {
      identity: "curl-client-8",
      body: "q",
    });
    const taken = await take("hs-late", "curl-worker-8", 5_000);
    const id = taken.headers.get("EdgeMQ-Request-Id") ?? "";
    const deadline = Number(taken.headers.get("EdgeMQ-Deadline"));
    await expectError(await pending, 504, "timeout");
    while (Date.now() <= deadline) await sleep(10);
    await expectError(await reply("hs-late", "curl-worker-8", id, "late"), 410, "expired");
  });

  it("lets a WebSocket server and an HTTP server share one queue", async () => {
    const server = await wsServer("hs-shared", "ws-worker-9", 1);
    const first = http("/v1/queues/hs-shared/requests", { identity: "curl-client-9", body: "1" });
    const dispatch = await server.next();
    const waiting = take("hs-shared", "curl-worker-9", 10_000);
    await sleep(50);
    const second = http("/v1/queues/hs-shared/requests", { identity: "curl-client-9", body: "2" });
    const taken = await waiting;
    const id = taken.headers.get("EdgeMQ-Request-Id") ?? "";
    expect(await taken.text()).toBe("2");
    server.send({ type: "reply", id: field(dispatch, "id"), body: encodeBody("one") });
    expect((await reply("hs-shared", "curl-worker-9", id, "two")).status).toBe(204);
    expect(await (await first).text()).toBe("one");
    expect(await (await second).text()).toBe("two");
    server.close();
  });

  it("returns a request whose HTTP lease ran out to the queue; the old lessee's reply is refused", async () => {
    await asyncRequest("hs-lease", "curl-client-10");
    const first = await take("hs-lease", "curl-worker-10", 5_000);
    const id = first.headers.get("EdgeMQ-Request-Id") ?? "";
    const stub = env.QUEUE.getByName("hs-lease");
    await runInDurableObject(stub, (_instance, state) => {
      state.storage.sql.exec("UPDATE requests SET lease_until = 1 WHERE rid = ?", Number(id));
    });
    await runDurableObjectAlarm(stub);
    const second = await take("hs-lease", "curl-worker-11", 5_000);
    expect(second.headers.get("EdgeMQ-Request-Id")).toBe(id);
    expect(second.headers.get("EdgeMQ-Attempt")).toBe("2");
    await expectError(await reply("hs-lease", "curl-worker-10", id, "late"), 404, "not_found");
    expect((await reply("hs-lease", "curl-worker-11", id, "ok")).status).toBe(204);
  });

  it("stops takes whose callers went away: the next request goes to a take still waiting", async () => {
    const q = "hs-abandon";
    const callers = [0, 1, 2].map(() => new AbortController());
    const gone = callers.map((caller, i) =>
      http(`/v1/queues/${q}/take?wait=30000`, { identity: `quitter-${i}`, signal: caller.signal })
        .then(() => "answered")
        .catch(() => "hung up"),
    );
    await expect.poll(() => waitingTakes(q)).toBe(3);
    for (const caller of callers) caller.abort();
    expect(await Promise.all(gone)).toEqual(["hung up", "hung up", "hung up"]);
    await expect.poll(() => waitingTakes(q)).toBe(0);

    const live = take(q, "stayer", 10_000);
    await expect.poll(() => waitingTakes(q)).toBe(1);
    await asyncRequest(q, "abandon-client");
    const got = await live;
    expect(got.status).toBe(200);
    expect(got.headers.get("EdgeMQ-Attempt")).toBe("1");
  });

  it("ends a leaving server's waiting takes (DELETE .../takes), and it no longer counts as connected", async () => {
    const q = "hs-leave";
    const leaving = [0, 1].map(() => take(q, "leaver", 30_000));
    const other = take(q, "stayer-2", 30_000);
    await expect.poll(() => waitingTakes(q)).toBe(3);
    const left = await http(`/v1/queues/${q}/takes`, { method: "DELETE", identity: "leaver" });
    expect(left.status).toBe(204);
    expect((await Promise.all(leaving)).map((r) => r.status)).toEqual([204, 204]);
    expect(await waitingTakes(q)).toBe(1);
    await asyncRequest(q, "leave-client");
    expect((await other).headers.get("EdgeMQ-From")).toBe("leave-client");

    // A server whose only sign of life was its takes is not present once it left.
    const lone = "hs-leave-alone";
    const waiting = take(lone, "lone-leaver", 30_000);
    await expect.poll(() => waitingTakes(lone)).toBe(1);
    await http(`/v1/queues/${lone}/takes`, { method: "DELETE", identity: "lone-leaver" });
    expect((await waiting).status).toBe(204);
    const refused = await http(`/v1/queues/${lone}/requests?failFast=true`, {
      identity: "leave-client",
      body: "q",
    });
    await expectError(refused, 503, "no_responders");
  });

  it("puts back in the queue a request handed to a take whose caller went away as it came", async () => {
    const q = "hs-abandon-2";
    const stub = env.QUEUE.getByName(q);
    await asyncRequest(q, "abandon-client-2");
    const first = await stub.take({ queue: q, identity: "gone", waitMs: 0, takeId: "t-gone" });
    expect(first).toMatchObject({ ok: true, dispatch: { attempt: 1 } });
    // Another identity naming that take changes nothing; its own caller going away does.
    await stub.abandonTake({ queue: q, identity: "someone-else", takeId: "t-other" });
    expect((await take(q, "stayer-2", 0)).status).toBe(204);
    await stub.abandonTake({ queue: q, identity: "gone", takeId: "t-gone" });
    const again = await take(q, "stayer-2", 0);
    expect(again.status).toBe(200);
    expect(again.headers.get("EdgeMQ-Attempt")).toBe("2");
  });

  it("takes nothing for a take whose caller hung up before it arrived (a partition sweep's later call)", async () => {
    const q = "hs-abandon-3";
    const stub = env.QUEUE.getByName(q);
    await asyncRequest(q, "abandon-client-3");
    await stub.abandonTake({ queue: q, identity: "late", takeId: "t-late" });
    const late = await stub.take({ queue: q, identity: "late", waitMs: 0, takeId: "t-late" });
    expect(late).toEqual({ ok: true, dispatch: null });
    const live = await take(q, "stayer-3", 0);
    expect(live.status).toBe(200);
    expect(live.headers.get("EdgeMQ-Attempt")).toBe("1");
  });

  it("serves waiting takes first, longest waiting first, and only then an idle WebSocket server", async () => {
    const q = "hs-order";
    const server = await wsServer(q, "order-ws-worker", 4);
    const takeA = take(q, "order-take-a", 30_000);
    await expect.poll(() => waitingTakes(q)).toBe(1);
    const takeB = take(q, "order-take-b", 30_000);
    await expect.poll(() => waitingTakes(q)).toBe(2);

    const wsFirst = server.next();
    const who = (...waits: Promise<string>[]) => Promise.race(waits);
    const gotA = takeA.then(() => "take A");
    const gotB = takeB.then(() => "take B");
    const gotWs = wsFirst.then(() => "WebSocket server");

    await asyncRequest(q, "order-client", "", "1");
    expect(await who(gotA, gotB, gotWs)).toBe("take A");
    expect(await (await takeA).text()).toBe("1");
    await asyncRequest(q, "order-client", "", "2");
    expect(await who(gotB, gotWs)).toBe("take B");
    expect(await (await takeB).text()).toBe("2");
    // No take waits now: the idle WebSocket server gets the next one, as its first dispatch.
    await asyncRequest(q, "order-client", "", "3");
    expect(await wsFirst).toMatchObject({ type: "dispatch", body: { enc: "json", data: "3" } });
    server.close();
  });

  it("refuses a take with 429 rate_limited while 1,000 takes wait on the queue, and takes again once one stops", async () => {
    const q = "hs-crowd";
    const caller = new AbortController();
    const first = http(`/v1/queues/${q}/take?wait=60000`, {
      identity: "crowd-worker",
      signal: caller.signal,
    }).catch(() => "hung up");
    await expect.poll(() => waitingTakes(q)).toBe(1);
    // 999 more waiting takes, registered as the queue object registers a take's wait (cheaper
    // than 999 more calls through the front door).
    const takeIds = Array.from({ length: 999 }, (_, i) => `crowd-${i}`);
    await runInDurableObject(env.QUEUE.getByName(q), (instance) => {
      const { takers } = (instance as unknown as { state: { takers: HttpTakers } }).state;
      for (const takeId of takeIds) void takers.wait("crowd-worker", 60_000, takeId);
    });
    expect(await waitingTakes(q)).toBe(1_000);
    const crowded = await take(q, "one-too-many", 0);
    expect(crowded.headers.get("Retry-After")).toBe("1");
    await expectError(crowded, 429, "rate_limited");
    await expectError(await take(q, "one-too-many", 5_000), 429, "rate_limited");
    // The real take's caller goes away: there is room for one more.
    caller.abort();
    expect(await first).toBe("hung up");
    await expect.poll(() => waitingTakes(q)).toBe(999);
    expect((await take(q, "one-too-many", 0)).status).toBe(204);
    await runInDurableObject(env.QUEUE.getByName(q), (instance) => {
      const { takers } = (instance as unknown as { state: { takers: HttpTakers } }).state;
      for (const takeId of takeIds) takers.abandon(takeId);
    });
    expect(await waitingTakes(q)).toBe(0);
  });

  it("refuses with 413 a reply within maxBodyBytes that JSON escaping takes past the frame size, keeping the lease", async () => {
    const q = "hs-escape";
    await asyncRequest(q, "escape-client");
    const taken = await take(q, "escape-worker", 0);
    const id = taken.headers.get("EdgeMQ-Request-Id") ?? "";
    const controls = "\u0001".repeat(300_000);
    const refusedReply = await reply(q, "escape-worker", id, controls, "text/plain");
    await expectError(refusedReply, 413, "too_large");
    expect((await reply(q, "escape-worker", id, "fits", "text/plain")).status).toBe(204);
  });
});

/** How many takes wait on queue `queue` (http-takers.ts). */
function waitingTakes(queue: string): Promise<number> {
  return runInDurableObject(
    env.QUEUE.getByName(queue),
    (instance) =>
      (instance as unknown as { state: { takers: { waitingCount: number } } }).state.takers
        .waitingCount,
  );
}
