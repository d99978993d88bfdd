/**
 * QueueDO in workerd: enqueue by RPC, dispatch to a real server socket, replies and errors
 * delivered to the real ExchangeDO's outbox, lease rules, redelivery and malformed frames.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { outcomeFor, request, TestServer } from "./queue-test-server.js";

const queueStub = (queue: string) => env.QUEUE.getByName(queue);

describe("QueueDO request life", () => {
  it("dispatches an enqueued request to a ready server and delivers the reply with the client's id", async () => {
    const server = await TestServer.connect("life-1", "w1");
    const answers = await queueStub("life-1").enqueue({
      queue: "life-1",
      from: "alice",
      requests: [request("r1", "life-1")],
    });
    expect(answers).toEqual([{ id: "r1", ok: true, deadline: expect.any(Number) }]);
    const dispatch = await server.next("dispatch");
    expect(dispatch).toMatchObject({ from: "alice", queue: "life-1", attempt: 1 });
    expect(dispatch.body).toEqual({ enc: "json", data: JSON.stringify({ id: "r1" }) });
    server.send({ type: "reply", id: dispatch.id, body: { enc: "utf8", data: "done" } });
    const outcome = await outcomeFor("alice", "r1");
    expect(outcome).toEqual({ type: "reply", id: "r1", body: { enc: "utf8", data: "done" } });
    server.close();
  });

  it("answers a resend of a known client id with the stored deadline and dispatches it once", async () => {
    const server = await TestServer.connect("life-2", "w1");
    const input = { queue: "life-2", from: "bob", requests: [request("same", "life-2")] };
    const [first] = await queueStub("life-2").enqueue(input);
    const [second] = await queueStub("life-2").enqueue(input);
    expect(first).not.toHaveProperty("resent");
    expect(second).toEqual({ ...first, resent: true });
    await server.next("dispatch");
    const stats = await queueStub("life-2").stats();
    expect(stats).toMatchObject({ queued: 0, leased: 1, servers: 1 });
    server.close();
  });

  it("answers a resend as stored when it repeats an id within one batch, or would be refused if new", async () => {
    const server = await TestServer.connect("life-2b", "w1");
    const twice = {
      queue: "life-2b",
      from: "bob",
      requests: [request("same", "life-2b"), request("same", "life-2b")],
    };
    const [first, second] = await queueStub("life-2b").enqueue(twice);
    expect(first).toMatchObject({ id: "same", ok: true });
    expect(second).toEqual({ ...first, resent: true });
    // A new request with this timeout is refused bad_request; a resend still gets its deadline.
    const tooLong = { ...twice, requests: [request("same", "life-2b", { timeout: 10 ** 12 })] };
    expect(await queueStub("life-2b").enqueue(tooLong)).toEqual([{ ...first, resent: true }]);
    await server.next("dispatch");
    expect(await queueStub("life-2b").stats()).toMatchObject({ queued: 0, leased: 1, servers: 1 });
    server.close();
  });

  it("stores the new requests of a batch that mixes them with a resend and a refused one, each answered in order", async () => {
    const q = "life-2c";
    const [a] = await queueStub(q).enqueue({ queue: q, from: "bo", requests: [request("a", q)] });
    const answers = await queueStub(q).enqueue({
      queue: q,
      from: "bo",
      requests: [
        request("b", q),
        request("a", q),
        request("d", q, { timeout: 10 ** 12 }),
        request("c", q),
      ],
    });
    expect(answers).toEqual([
      { id: "b", ok: true, deadline: expect.any(Number) },
      { ...a, resent: true },
      { id: "d", ok: false, error: expect.objectContaining({ code: "bad_request" }) },
      { id: "c", ok: true, deadline: expect.any(Number) },
    ]);
    const server = await TestServer.connect(q, "w1", 10);
    const dispatched = [
      await server.next("dispatch"),
      await server.next("dispatch"),
      await server.next("dispatch"),
    ];
    expect(dispatched.map((d) => JSON.parse(String(d.body.data)).id)).toEqual(["a", "b", "c"]);
    expect(await queueStub(q).stats()).toMatchObject({ queued: 0, leased: 3, servers: 1 });
    server.close();
  });

  it("hands a fail frame to the client as server_error with the server's message", async () => {
    const server = await TestServer.connect("life-3", "w1");
    await queueStub("life-3").enqueue({
      queue: "life-3",
      from: "carol",
      requests: [request("f", "life-3")],
    });
    const dispatch = await server.next("dispatch");
    server.send({ type: "fail", id: dispatch.id, message: "handler threw" });
    const outcome = await outcomeFor("carol", "f");
    expect(outcome).toMatchObject({
      type: "error",
      id: "f",
      code: "server_error",
      message: "handler threw",
    });
    server.close();
  });

  it("refuses a timeout over the maximum with bad_request and stores nothing", async () => {
    const answers = await queueStub("life-4").enqueue({
      queue: "life-4",
      from: "dave",
      requests: [request("long", "life-4", { timeout: 10 * 60_000 })],
    });
    expect(answers[0]).toMatchObject({ id: "long", ok: false, error: { code: "bad_request" } });
    expect(await queueStub("life-4").stats()).toMatchObject({ queued: 0, leased: 0, servers: 0 });
  });

  it("answers failFast with no connected server by no_responders at once", async () => {
    const answers = await queueStub("life-5").enqueue({
      queue: "life-5",
      from: "erin",
      requests: [request("ff", "life-5", { failFast: true })],
    });
    expect(answers[0]).toMatchObject({ id: "ff", ok: false, error: { code: "no_responders" } });
    expect((await queueStub("life-5").stats()).queued).toBe(0);
  });

  it("cancels a leased request: the server gets cancel and the client gets cancelled", async () => {
    const server = await TestServer.connect("life-6", "w1");
    await queueStub("life-6").enqueue({
      queue: "life-6",
      from: "fay",
      requests: [request("c", "life-6")],
    });
    const dispatch = await server.next("dispatch");
    await queueStub("life-6").cancel({ queue: "life-6", from: "fay", ids: ["c"] });
    expect(await server.next("cancel")).toEqual({ type: "cancel", id: dispatch.id });
    expect(await outcomeFor("fay", "c")).toMatchObject({ type: "error", code: "cancelled" });
    server.close();
  });

  it("serves a second client's request before the first client's backlog", async () => {
    const server = await TestServer.connect("fair-1", "w1", 1);
    const stub = queueStub("fair-1");
    const flood = Array.from({ length: 5 }, (_, i) => request(`a${i}`, "fair-1"));
    await stub.enqueue({ queue: "fair-1", from: "flooder", requests: flood });
    await stub.enqueue({ queue: "fair-1", from: "quiet", requests: [request("q0", "fair-1")] });
    const order: string[] = [];
    for (let i = 0; i < 3; i++) {
      const dispatch = await server.next("dispatch");
      order.push(dispatch.from);
      server.send({ type: "reply", id: dispatch.id, body: { enc: "json", data: "null" } });
    }
    expect(order).toEqual(["flooder", "quiet", "flooder"]);
    server.close();
  });
});

describe("QueueDO replies from the wrong place", () => {
  it("refuses a reply from a connection the request is not leased to with forbidden", async () => {
    const lessee = await TestServer.connect("lease-1", "w1", 1);
    const other = await TestServer.connect("lease-1", "w2", 1);
    await queueStub("lease-1").enqueue({
      queue: "lease-1",
      from: "gus",
      requests: [request("x", "lease-1")],
    });
    const dispatch = await lessee.next("dispatch");
    other.send({ type: "reply", id: dispatch.id, body: { enc: "json", data: "1" } });
    expect(await other.next("error")).toMatchObject({ id: dispatch.id, code: "forbidden" });
    lessee.send({ type: "reply", id: dispatch.id, body: { enc: "json", data: "2" } });
    expect(await outcomeFor("gus", "x")).toMatchObject({ body: { data: "2" } });
    lessee.close();
    other.close();
  });

  it("refuses a second reply to the same request with conflict", async () => {
    const server = await TestServer.connect("lease-2", "w1");
    await queueStub("lease-2").enqueue({
      queue: "lease-2",
      from: "hal",
      requests: [request("y", "lease-2")],
    });
    const dispatch = await server.next("dispatch");
    const reply = { type: "reply", id: dispatch.id, body: { enc: "json", data: "1" } };
    server.send([reply, reply]);
    expect(await server.next("error")).toMatchObject({ id: dispatch.id, code: "conflict" });
    server.close();
  });

  it("gives the server too_large and the client server_error for an oversized reply", async () => {
    const server = await TestServer.connect("lease-3", "w1");
    await queueStub("lease-3").enqueue({
      queue: "lease-3",
      from: "ivy",
      requests: [request("big", "lease-3")],
    });
    const dispatch = await server.next("dispatch");
    const data = "x".repeat(1024 * 1024 + 1);
    server.send({ type: "reply", id: dispatch.id, body: { enc: "utf8", data } });
    expect(await server.next("error")).toMatchObject({ id: dispatch.id, code: "too_large" });
    const outcome = await outcomeFor("ivy", "big");
    expect(outcome).toMatchObject({ type: "error", code: "server_error" });
    server.close();
  });

  it("ends with server_error, at once, a request whose reply JSON escaping takes past the frame size", async () => {
    const server = await TestServer.connect("lease-3b", "w1");
    await queueStub("lease-3b").enqueue({
      queue: "lease-3b",
      from: "ivy-b",
      requests: [request("quoted", "lease-3b")],
    });
    const dispatch = await server.next("dispatch");
    const data = '"'.repeat(1024 * 1024 - 10);
    server.send({ type: "reply", id: dispatch.id, body: { enc: "utf8", data } });
    expect(await server.next("error")).toMatchObject({ id: dispatch.id, code: "too_large" });
    const outcome = await outcomeFor("ivy-b", "quoted");
    expect(outcome).toMatchObject({ type: "error", code: "server_error" });
    expect(await queueStub("lease-3b").stats()).toMatchObject({ leased: 0 });
    server.close();
  });

  it("ends with server_error, at once, a request whose reply is malformed, and tells the server why", async () => {
    const queue = "lease-3c";
    const server = await TestServer.connect(queue, "w1");
    const malformed = [
      { enc: "base64", data: "not base64!" },
      { enc: "utf8", data: "ok", headers: "not an object" },
    ];
    for (const [n, body] of malformed.entries()) {
      const id = `bad-${n}`;
      await queueStub(queue).enqueue({ queue, from: "ivy-c", requests: [request(id, queue)] });
      const dispatch = await server.next("dispatch");
      const { headers, ...wire } = body;
      server.send({ type: "reply", id: dispatch.id, body: wire, ...(headers ? { headers } : {}) });
      expect(await server.next("error")).toMatchObject({ id: dispatch.id, code: "bad_request" });
      const outcome = await outcomeFor("ivy-c", id);
      expect(outcome).toMatchObject({ type: "error", code: "server_error" });
      expect(String(outcome?.type === "error" ? outcome.message : "")).toMatch(/malformed/);
      expect(await queueStub(queue).stats()).toMatchObject({ leased: 0 });
    }
    server.close();
  });

  it("lets a malformed answer to a dispatch that is not the server's change nothing", async () => {
    const queue = "lease-3d";
    const owner = await TestServer.connect(queue, "w-owner", 1);
    await queueStub(queue).enqueue({ queue, from: "ivy-d", requests: [request("kept", queue)] });
    const dispatch = await owner.next("dispatch");
    const other = await TestServer.connect(queue, "w-other", 1);
    other.send({ type: "reply", id: dispatch.id, body: { enc: "base64", data: "!" } });
    expect(await other.next("error")).toMatchObject({ id: dispatch.id, code: "bad_request" });
    expect(await queueStub(queue).stats()).toMatchObject({ leased: 1 });
    owner.send({ type: "reply", id: dispatch.id, body: { enc: "json", data: "1" } });
    expect(await outcomeFor("ivy-d", "kept")).toMatchObject({ type: "reply", id: "kept" });
    owner.close();
    other.close();
  });

  it("answers malformed and unknown frames with bad_request and keeps the socket open", async () => {
    const server = await TestServer.connect("bad-1", "w1");
    server.send("not json");
    expect(await server.next("error")).toMatchObject({ code: "bad_request" });
    server.send({ type: "bogus" });
    expect(await server.next("error")).toMatchObject({ code: "bad_request" });
    server.send({ type: "request", id: "r", queue: "bad-1", body: { enc: "json", data: "1" } });
    expect(await server.next("error")).toMatchObject({ code: "bad_request" });
    await queueStub("bad-1").enqueue({
      queue: "bad-1",
      from: "jo",
      requests: [request("ok", "bad-1")],
    });
    const dispatch = await server.next("dispatch");
    server.send({ type: "reply", id: dispatch.id, body: { enc: "json", data: "1" } });
    expect(await outcomeFor("jo", "ok")).toMatchObject({ type: "reply", id: "ok" });
    server.close();
  });
});
