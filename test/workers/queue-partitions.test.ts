/**
 * Partitioned queues in workerd (EDGEMQ_QUEUE_PARTITIONS; the workers project gives `part-*`
 * queues 2 partitions): each partition welcomes its servers with its place, a client's requests
 * land in the partition its identity hashes to, one server attached to both partitions serves
 * clients of both, an HTTP server's answer goes back to the partition its take came from, and a
 * partition out of range is refused.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { partitionOf } from "../../durable-objects/shared/queue-partitions.js";
import { encodeBody } from "../../protocol/index.js";
import { TestSocket } from "./exchange-test-socket.js";
import { expectError, field, http } from "./http-test-peer.js";

/** A client identity (prefixed `prefix`) whose requests land in `partition` of 2. */
function identityIn(partition: number, prefix: string): string {
  for (let i = 0; ; i++) {
    const identity = `${prefix}-${i}`;
    if (partitionOf(identity, 2) === partition) return identity;
  }
}

/** A server socket on `partition` of `queue` (through the front door) that announced 4. */
async function serverOn(queue: string, identity: string, partition: number) {
  const path = `/v1/queues/${queue}/serve?identity=${identity}&partition=${partition}`;
  const socket = await TestSocket.open(path);
  const welcome = await socket.next();
  socket.send({ type: "ready", concurrency: 4 });
  return { socket, welcome };
}

describe("partitioned queues", () => {
  it("welcome a server with the partition its socket serves and the partition count", async () => {
    const plain = await TestSocket.open("/v1/queues/part-w/serve?identity=pw");
    expect(await plain.next()).toMatchObject({ queue: "part-w", partition: 0, partitions: 2 });
    const second = await serverOn("part-w", "pw", 1);
    expect(second.welcome).toMatchObject({ queue: "part-w", partition: 1, partitions: 2 });
    const unpartitioned = await TestSocket.open("/v1/queues/plain-w/serve?identity=pw");
    const welcome = await unpartitioned.next();
    expect(welcome).toMatchObject({ type: "welcome", queue: "plain-w" });
    expect(field(welcome, "partitions")).toBeUndefined();
    for (const socket of [plain, second.socket, unpartitioned]) socket.close();
  });

  it("serve clients of both partitions through one server attached to both", async () => {
    const zero = await serverOn("part-both", "w1", 0);
    const one = await serverOn("part-both", "w1", 1);
    const alice = identityIn(0, "pa");
    const bob = identityIn(1, "pb");
    const { socket: a } = await TestSocket.client(alice);
    const { socket: b } = await TestSocket.client(bob);
    a.send({ type: "request", id: "r1", queue: "part-both", body: encodeBody("from a") });
    b.send({ type: "request", id: "r1", queue: "part-both", body: encodeBody("from b") });
    expect(await a.next()).toMatchObject({ type: "accepted", id: "r1" });
    expect(await b.next()).toMatchObject({ type: "accepted", id: "r1" });

    const onZero = await zero.socket.next();
    const onOne = await one.socket.next();
    expect(onZero).toMatchObject({ type: "dispatch", from: alice, body: encodeBody("from a") });
    expect(onOne).toMatchObject({ type: "dispatch", from: bob, body: encodeBody("from b") });
    zero.socket.send({ type: "reply", id: field(onZero, "id"), body: encodeBody("to a") });
    one.socket.send({ type: "reply", id: field(onOne, "id"), body: encodeBody("to b") });
    expect(await a.next()).toEqual({ type: "reply", id: "r1", body: encodeBody("to a") });
    expect(await b.next()).toEqual({ type: "reply", id: "r1", body: encodeBody("to b") });

    // Partition 1 is the object named `part-both#1`, holding its own server socket.
    expect(await env.QUEUE.getByName("part-both#1").stats()).toMatchObject({ servers: 1 });
    for (const socket of [zero.socket, one.socket, a, b]) socket.close();
  });

  it("let an HTTP server take from any partition and answer the one it took from", async () => {
    const bob = identityIn(1, "ph");
    const { socket: client } = await TestSocket.client(bob);
    client.send({ type: "request", id: "r1", queue: "part-http", body: encodeBody("job") });
    expect(await client.next()).toMatchObject({ type: "accepted", id: "r1" });

    const taken = await http("/v1/queues/part-http/take?wait=0", { identity: "hw" });
    expect(taken.status).toBe(200);
    expect(taken.headers.get("EdgeMQ-Partition")).toBe("1");
    expect(taken.headers.get("EdgeMQ-Partitions")).toBe("2");
    const id = taken.headers.get("EdgeMQ-Request-Id") ?? "";
    expect(id).toMatch(/^p1\./);
    await taken.arrayBuffer();

    const reply = (path: string) => http(path, { identity: "hw", body: "done" });
    // The id names its partition: a ?partition= that disagrees, or a bare id, is refused.
    const base = "/v1/queues/part-http/replies";
    await expectError(await reply(`${base}/${id}?partition=0`), 400, "bad_request");
    const bare = id.slice("p1.".length);
    await expectError(await reply(`${base}/${bare}`), 400, "bad_request");
    const right = await reply(`${base}/${id}`);
    expect(right.status).toBe(204);
    expect(await client.next()).toMatchObject({ type: "reply", id: "r1" });
    client.close();
  });

  it("give each partition's takes their own ids, so equal row ids never answer another client", async () => {
    const queue = "part-same-ids";
    const [alice, bob] = [identityIn(0, "ps"), identityIn(1, "ps")];
    const clients = await Promise.all([TestSocket.client(alice), TestSocket.client(bob)]);
    for (const { socket } of clients) {
      socket.send({ type: "request", id: "r1", queue, body: encodeBody("job") });
      expect(await socket.next()).toMatchObject({ type: "accepted", id: "r1" });
    }
    const take = (partition: number) =>
      http(`/v1/queues/${queue}/take?wait=0&partition=${partition}`, { identity: "hw-same" });
    const taken = await Promise.all([take(0), take(1)]);
    const ids = taken.map((t) => t.headers.get("EdgeMQ-Request-Id") ?? "");
    await Promise.all(taken.map((t) => t.arrayBuffer()));
    // Each partition numbers its own rows from 1: the same row id, told apart by the prefix.
    expect(ids[0]?.slice(3)).toBe(ids[1]?.slice(3));
    expect(ids.map((id) => id.slice(0, 3))).toEqual(["p0.", "p1."]);
    for (const [i, id] of [...ids.entries()].reverse()) {
      const answer = await http(`/v1/queues/${queue}/replies/${id}`, {
        identity: "hw-same",
        body: `for partition ${i}`,
      });
      expect(answer.status).toBe(204);
    }
    for (const [i, { socket }] of clients.entries()) {
      const reply = await socket.next();
      expect(reply).toMatchObject({ type: "reply", id: "r1" });
      expect(field(reply, "body")).toMatchObject({ data: `for partition ${i}` });
      socket.close();
    }
  });

  it("answer an empty take with the partition count", async () => {
    const empty = await http("/v1/queues/part-empty/take?wait=0&partition=1", { identity: "hw" });
    expect(empty.status).toBe(204);
    expect(empty.headers.get("EdgeMQ-Partitions")).toBe("2");
    expect(empty.headers.get("EdgeMQ-Partition")).toBe("1");
  });

  it("refuse a partition outside 0 to K-1 with bad_request", async () => {
    const upgrade = { Upgrade: "websocket" };
    const serve = (path: string) => http(path, { method: "GET", identity: "w1", headers: upgrade });
    await expectError(await serve("/v1/queues/part-bad/serve?partition=2"), 400, "bad_request");
    await expectError(await serve("/v1/queues/part-bad/serve?partition=x"), 400, "bad_request");
    await expectError(await serve("/v1/queues/plain-bad/serve?partition=1"), 400, "bad_request");
    const take = await http("/v1/queues/part-bad/take?partition=5", { identity: "w1" });
    await expectError(take, 400, "bad_request");
  });
  // The limits hold per partition, so a refusal says so (before: "no server is connected to the
  // queue", "the queue holds N requests", read as the whole queue's).
  it("name the client's partition in a refusal, on /v1/connect, a queue link and HTTP", async () => {
    const failFast = {
      type: "request",
      queue: "part-nobody",
      body: encodeBody("x"),
      failFast: true,
    };
    const expected = {
      type: "error",
      code: "no_responders",
      message: "no server is connected to this client's partition of the queue (one of 2)",
    };
    const { socket: viaExchange } = await TestSocket.client("pn-exchange");
    viaExchange.send({ ...failFast, id: "r1" });
    expect(await viaExchange.next()).toEqual({ ...expected, id: "r1" });
    const link = await TestSocket.open("/v1/queues/part-nobody/connect?identity=pn-link");
    await link.next();
    link.send({ ...failFast, id: "r2" });
    expect(await link.next()).toEqual({ ...expected, id: "r2" });
    const response = await http("/v1/queues/part-nobody/requests?failFast=true", {
      identity: "pn-http",
      method: "POST",
      body: "x",
    });
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({
      error: { code: "no_responders", message: expected.message },
    });
    for (const socket of [viaExchange, link]) socket.close();
  });
});
