/**
 * End to end inside workerd: a client socket and a server socket through the front door, with the
 * real ExchangeDO and QueueDO between them.
 */
import { describe, expect, it } from "vitest";
import { encodeBody } from "../../protocol/index.js";
import { idOf, serverSocket, TestSocket, typesBeforeBarrier } from "./exchange-test-socket.js";

describe("request and reply through the relay", () => {
  it("brings a server's reply to the client that sent the request, then forgets it on ack", async () => {
    const worker = await serverSocket("echo", "worker-1");
    const { socket: client } = await TestSocket.client("alice-rt");

    client.send({ type: "request", id: "r1", queue: "echo", body: encodeBody({ n: 21 }) });
    expect(await client.next()).toMatchObject({ type: "accepted", id: "r1" });

    const dispatch = await worker.next();
    expect(dispatch).toMatchObject({ type: "dispatch", from: "alice-rt", queue: "echo" });
    expect(dispatch).toHaveProperty("body", encodeBody({ n: 21 }));
    worker.send({ type: "reply", id: idOf(dispatch), body: encodeBody({ n: 42 }) });

    expect(await client.next()).toEqual({ type: "reply", id: "r1", body: encodeBody({ n: 42 }) });
    client.send({ type: "ack", ids: ["r1"] });
    client.close();

    const again = await TestSocket.client("alice-rt");
    again.socket.send({ type: "barrier" });
    expect(await again.socket.next()).toMatchObject({ type: "error", code: "bad_request" });
    again.socket.close();
    worker.close();
  });

  it("stamps the request with the socket's identity, not anything the frame claims", async () => {
    const worker = await serverSocket("stamp", "worker-2");
    const { socket: client } = await TestSocket.client("real-sender");
    client.send({
      type: "request",
      id: "r1",
      queue: "stamp",
      from: "someone-else",
      body: encodeBody("x"),
    });
    expect(await client.next()).toMatchObject({ type: "accepted", id: "r1" });
    expect(await worker.next()).toMatchObject({ type: "dispatch", from: "real-sender" });
    client.close();
    worker.close();
  });

  it("carries out several cancels to one queue in one message: each request ends cancelled", async () => {
    const { socket: client } = await TestSocket.client("alice-cancels");
    const ids = ["c1", "c2", "c3"];
    client.send(
      ids.map((id) => ({ type: "request", id, queue: "rt-cancels", body: encodeBody(1) })),
    );
    for (const id of ids) expect(await client.next()).toMatchObject({ type: "accepted", id });
    client.send(ids.map((id) => ({ type: "cancel", id, queue: "rt-cancels" })));
    const outcomes = [await client.next(), await client.next(), await client.next()];
    expect(outcomes).toEqual(
      expect.arrayContaining(ids.map((id) => expect.objectContaining({ id, code: "cancelled" }))),
    );
    client.close();
  });

  it("carries out a cancel sent with its request in one message: the request ends cancelled, never dispatched", async () => {
    const worker = await serverSocket("rt-cancel", "worker-c");
    const { socket: client } = await TestSocket.client("alice-cancel");
    client.send([
      { type: "request", id: "r1", queue: "rt-cancel", body: encodeBody(1) },
      { type: "cancel", id: "r1", queue: "rt-cancel" },
    ]);
    expect(await client.next()).toMatchObject({ type: "error", id: "r1", code: "cancelled" });
    expect(await typesBeforeBarrier(worker)).toEqual([]);
    client.close();
    worker.close();
  });

  it("answers a failFast request with no_responders when the queue has no server", async () => {
    const { socket: client } = await TestSocket.client("hasty");
    client.send({ type: "request", id: "r1", queue: "empty", body: encodeBody(1), failFast: true });
    expect(await client.next()).toMatchObject({ type: "error", id: "r1", code: "no_responders" });
    client.close();
  });
});
