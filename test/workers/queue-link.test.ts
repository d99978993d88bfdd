/**
 * Queue links (`/v1/queues/<q>/connect`) inside workerd: a client's requests to one queue go
 * straight to the queue partition and their outcomes come straight back on the link; an outcome
 * the link did not ack before it closed reaches the client through the exchange instead.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { encodeBody } from "../../protocol/index.js";
import {
  expectNothingElse,
  idOf,
  linkSocket,
  serverSocket,
  TestSocket,
  typesBeforeBarrier,
} from "./exchange-test-socket.js";

describe("queue links", () => {
  it("carries a request to the queue and brings its reply back on the link, not the exchange", async () => {
    const worker = await serverSocket("lnk-echo", "lnk-worker-1");
    const { socket: exchange } = await TestSocket.client("lnk-alice");
    const client = await linkSocket("lnk-echo", "lnk-alice");

    client.send({ type: "request", id: "r1", queue: "lnk-echo", body: encodeBody({ n: 1 }) });
    expect(await client.next()).toMatchObject({ type: "accepted", id: "r1" });
    const dispatch = await worker.next();
    expect(dispatch).toMatchObject({ type: "dispatch", from: "lnk-alice", queue: "lnk-echo" });
    worker.send({ type: "reply", id: idOf(dispatch), body: encodeBody({ n: 2 }) });

    expect(await client.next()).toEqual({ type: "reply", id: "r1", body: encodeBody({ n: 2 }) });
    client.send({ type: "ack", ids: ["r1"] });
    // The exchange socket got nothing for r1: the next frame it sees answers this bad frame.
    exchange.send({ type: "barrier" });
    expect(await exchange.next()).toMatchObject({ type: "error", code: "bad_request" });
    client.close();
    exchange.close();
    worker.close();
  });

  it("ends a request once when one message holds a malformed and a valid answer to it, keeping the server's slots right", async () => {
    const queue = "lnk-double";
    const worker = await TestSocket.open(`/v1/queues/${queue}/serve?identity=lnk-double-w`);
    expect(await worker.next()).toMatchObject({ type: "welcome" });
    worker.send({ type: "ready", concurrency: 2 });
    const client = await linkSocket(queue, "lnk-double-c");
    client.send({ type: "request", id: "r1", queue, body: encodeBody(1) });
    client.send({ type: "request", id: "r2", queue, body: encodeBody(2) });
    const first = idOf(await worker.next());
    await worker.next();
    worker.send([
      { type: "reply", id: first, body: { enc: "nonsense", data: 5 } },
      { type: "reply", id: first, body: encodeBody("good") },
    ]);
    expect(await worker.next()).toMatchObject({ type: "error", id: first, code: "bad_request" });
    // One slot came free: r3 is dispatched, r4 waits for the next.
    client.send({ type: "request", id: "r3", queue, body: encodeBody(3) });
    client.send({ type: "request", id: "r4", queue, body: encodeBody(4) });
    expect(await worker.next()).toMatchObject({ type: "dispatch", attempt: 1 });
    await expectNothingElse(worker);
    const outcomes: unknown[] = [];
    for (;;) {
      const frame = await client.next();
      if (idOf(frame) !== "r1") continue;
      if ((frame as { type?: string }).type === "accepted") continue;
      outcomes.push(frame);
      break;
    }
    expect(outcomes).toEqual([{ type: "reply", id: "r1", body: encodeBody("good") }]);
    worker.close();
    client.close();
  });

  it("hands an outcome the link did not ack to the exchange once the link closes", async () => {
    const worker = await serverSocket("lnk-handoff", "lnk-worker-2");
    const { socket: exchange } = await TestSocket.client("lnk-bob");
    const client = await linkSocket("lnk-handoff", "lnk-bob");

    client.send({ type: "request", id: "r1", queue: "lnk-handoff", body: encodeBody("x") });
    expect(await client.next()).toMatchObject({ type: "accepted", id: "r1" });
    const dispatch = await worker.next();
    worker.send({ type: "reply", id: idOf(dispatch), body: encodeBody("y") });
    expect(await client.next()).toMatchObject({ type: "reply", id: "r1" });
    client.close(); // no ack

    expect(await exchange.next()).toEqual({ type: "reply", id: "r1", body: encodeBody("y") });
    exchange.close();
    worker.close();
  });

  it("never dispatches a request cancelled in the message that sent it, on a link or /v1/connect", async () => {
    const queue = "lnk-same-message";
    const worker = await serverSocket(queue, "lnk-worker-same");
    const link = await linkSocket(queue, "lnk-gus");
    const { socket: exchange } = await TestSocket.client("lnk-hal");
    for (const [socket, id] of [
      [link, "g1"],
      [exchange, "h1"],
    ] as const) {
      socket.send([
        { type: "request", id, queue, body: encodeBody(id) },
        { type: "cancel", id, queue },
      ]);
      expect(await socket.next()).toMatchObject({ type: "error", id, code: "cancelled" });
    }
    // The server got nothing: the next frame it sees answers this bad frame.
    await expectNothingElse(worker);
    link.close();
    exchange.close();
    worker.close();
  });

  it("sends an outcome through the exchange when the request came through the exchange", async () => {
    const worker = await serverSocket("lnk-mixed", "lnk-worker-3");
    const { socket: exchange } = await TestSocket.client("lnk-carol");
    const client = await linkSocket("lnk-mixed", "lnk-carol");

    exchange.send({ type: "request", id: "r1", queue: "lnk-mixed", body: encodeBody(1) });
    expect(await exchange.next()).toMatchObject({ type: "accepted", id: "r1" });
    const dispatch = await worker.next();
    worker.send({ type: "reply", id: idOf(dispatch), body: encodeBody(2) });
    expect(await exchange.next()).toMatchObject({ type: "reply", id: "r1" });
    expect(client.buffered).toBe(0);
    client.close();
    exchange.close();
    worker.close();
  });

  it("treats a request re-sent on the link as the one sent through the exchange (never run twice)", async () => {
    const worker = await serverSocket("lnk-dedup", "lnk-worker-4");
    const { socket: exchange } = await TestSocket.client("lnk-dave");
    exchange.send({ type: "request", id: "r1", queue: "lnk-dedup", body: encodeBody(1) });
    const first = await exchange.next();
    expect(first).toMatchObject({ type: "accepted", id: "r1" });
    const client = await linkSocket("lnk-dedup", "lnk-dave");
    client.send({ type: "request", id: "r1", queue: "lnk-dedup", body: encodeBody(1) });
    const again = await client.next();
    expect(again).toMatchObject({ type: "accepted", id: "r1" });
    expect((again as { deadline: number }).deadline).toBe((first as { deadline: number }).deadline);
    await worker.next(); // the one dispatch
    worker.send({ type: "barrier" });
    expect(await worker.next()).toMatchObject({ type: "error", code: "bad_request" });
    client.close();
    exchange.close();
    worker.close();
  });

  it("sends an unacked outcome down the link again when the client sends its request again", async () => {
    const worker = await serverSocket("lnk-ask-again", "lnk-worker-12");
    const client = await linkSocket("lnk-ask-again", "lnk-ivy");
    client.send({ type: "request", id: "r1", queue: "lnk-ask-again", body: encodeBody(1) });
    const dispatch = await worker.next();
    worker.send({ type: "reply", id: idOf(dispatch), body: encodeBody("once") });
    const [accepted, reply] = await client.take(2);
    expect(reply).toMatchObject({ type: "reply", id: "r1" });
    // No ack: the client asks again, so it lacks the outcome.
    client.send({ type: "request", id: "r1", queue: "lnk-ask-again", body: encodeBody(1) });
    expect(await client.take(2)).toEqual([accepted, reply]);
    expect(worker.buffered).toBe(0);
    client.close();
    worker.close();
  });

  it("refuses a request for another queue with bad_request and keeps the link open", async () => {
    const client = await linkSocket("lnk-only", "lnk-erin");
    client.send({ type: "request", id: "r1", queue: "lnk-other", body: encodeBody(1) });
    expect(await client.next()).toMatchObject({ type: "error", id: "r1", code: "bad_request" });
    client.send("{not json");
    expect(await client.next()).toMatchObject({ type: "error", code: "bad_request" });
    client.send({
      type: "request",
      id: "r2",
      queue: "lnk-only",
      body: encodeBody(1),
      failFast: true,
    });
    expect(await client.next()).toMatchObject({ type: "error", id: "r2", code: "no_responders" });
    client.close();
  });

  it("refuses a cancel naming another queue with bad_request and leaves the request running", async () => {
    const worker = await serverSocket("lnk-cancel-other", "lnk-worker-13");
    const client = await linkSocket("lnk-cancel-other", "lnk-olga");
    client.send({ type: "request", id: "r1", queue: "lnk-cancel-other", body: encodeBody(1) });
    expect(await client.next()).toMatchObject({ type: "accepted", id: "r1" });
    const dispatch = await worker.next();
    client.send({ type: "cancel", id: "r1", queue: "lnk-cancel-elsewhere" });
    client.send({ type: "barrier" });
    expect(await client.next()).toMatchObject({ type: "error", id: "r1", code: "bad_request" });
    expect(await client.next()).toMatchObject({ type: "error", code: "bad_request" });
    // r1 was not cancelled: its server got no cancel, and its reply reaches the client.
    expect(await typesBeforeBarrier(worker)).toEqual([]);
    worker.send({ type: "reply", id: idOf(dispatch), body: encodeBody("still") });
    expect(await client.next()).toEqual({ type: "reply", id: "r1", body: encodeBody("still") });
    client.close();
    worker.close();
  });

  it("cancels a request sent on the link, answering cancelled on the link", async () => {
    const worker = await serverSocket("lnk-cancel", "lnk-worker-5");
    const client = await linkSocket("lnk-cancel", "lnk-frank");
    client.send({ type: "request", id: "r1", queue: "lnk-cancel", body: encodeBody(1) });
    expect(await client.next()).toMatchObject({ type: "accepted", id: "r1" });
    await worker.next();
    client.send({ type: "cancel", id: "r1", queue: "lnk-cancel" });
    expect(await client.next()).toMatchObject({ type: "error", id: "r1", code: "cancelled" });
    expect(await worker.next()).toMatchObject({ type: "cancel" });
    client.close();
    worker.close();
  });

  it("cancels a request whose cancel came in the next message while a group commit held it", async () => {
    const q = "lnk-cancel-busy";
    const worker = await serverSocket(q, "lnk-worker-9");
    const client = await linkSocket(q, "lnk-gina");
    client.send({ type: "request", id: "r0", queue: q, body: encodeBody(0) });
    await worker.next(); // r0 stays in hand: the partition is busy, so link messages are batched
    client.send({ type: "request", id: "r1", queue: q, body: encodeBody(1) });
    client.send({ type: "cancel", id: "r1", queue: q });
    for (;;) {
      const frame = await client.next();
      if (idOf(frame) !== "r1" || (frame as { type: string }).type === "accepted") continue;
      expect(frame).toMatchObject({ type: "error", id: "r1", code: "cancelled" });
      break;
    }
    // The server never runs r1 unknowingly: either r1 never reached it, or (when the group
    // commit came first) it got r1 and then its cancel, before the answer to this bad frame.
    expect([[], ["dispatch", "cancel"]]).toContainEqual(await typesBeforeBarrier(worker));
    client.close();
    worker.close();
  });

  it("closes an older link of the same identity with 4001 when a newer one opens", async () => {
    const older = await linkSocket("lnk-takeover", "lnk-gina");
    const newer = await linkSocket("lnk-takeover", "lnk-gina");
    expect((await older.closed).code).toBe(4001);
    newer.close();
  });

  it("refuses an upgrade for an invalid queue name with 400", async () => {
    const { exports } = await import("cloudflare:workers");
    const response = await exports.default.fetch(
      "https://relay.test/v1/queues/bad%20name/connect?identity=x",
      {
        headers: { Upgrade: "websocket" },
      },
    );
    expect(response.status).toBe(400);
  });

  describe("answers sent down the link before they are written (durable queues)", () => {
    it("refuses a second reply to the same dispatch with conflict", async () => {
      const worker = await serverSocket("lnk-early-dup", "lnk-worker-6");
      const client = await linkSocket("lnk-early-dup", "lnk-hana");
      client.send({ type: "request", id: "r1", queue: "lnk-early-dup", body: encodeBody(1) });
      const dispatch = await worker.next();
      worker.send({ type: "reply", id: idOf(dispatch), body: encodeBody("first") });
      expect(await client.next()).toMatchObject({ type: "accepted", id: "r1" });
      expect(await client.next()).toEqual({ type: "reply", id: "r1", body: encodeBody("first") });
      worker.send({ type: "reply", id: idOf(dispatch), body: encodeBody("second") });
      expect(await worker.next()).toMatchObject({ type: "error", code: "conflict" });
      client.close();
      worker.close();
    });

    it("keeps the answered request stored: a re-sent id is not run again", async () => {
      const worker = await serverSocket("lnk-early-dedup", "lnk-worker-7");
      const client = await linkSocket("lnk-early-dedup", "lnk-ivan");
      client.send({ type: "request", id: "r1", queue: "lnk-early-dedup", body: encodeBody(1) });
      const dispatch = await worker.next();
      worker.send({ type: "reply", id: idOf(dispatch), body: encodeBody(2) });
      const accepted = await client.next();
      expect(await client.next()).toMatchObject({ type: "reply", id: "r1" });
      client.send({ type: "ack", ids: ["r1"] });
      await new Promise((resolve) => setTimeout(resolve, 50)); // past EARLY_FINISH_WRITE_MS
      client.send({ type: "request", id: "r1", queue: "lnk-early-dedup", body: encodeBody(1) });
      expect(await client.next()).toEqual(accepted);
      worker.send({ type: "barrier" });
      expect(await worker.next()).toMatchObject({ type: "error", code: "bad_request" });
      client.close();
      worker.close();
    });

    it("writes an answer acked before its finish as delivered: no outcome is kept to be sent again", async () => {
      const worker = await serverSocket("lnk-early-acked", "lnk-worker-10");
      const client = await linkSocket("lnk-early-acked", "lnk-kay");
      client.send({ type: "request", id: "r1", queue: "lnk-early-acked", body: encodeBody(1) });
      const first = await worker.next();
      worker.send({ type: "reply", id: idOf(first), body: encodeBody("one") });
      expect(await client.next()).toMatchObject({ type: "accepted", id: "r1" });
      expect(await client.next()).toMatchObject({ type: "reply", id: "r1" });
      // As the SDK does: the ack rides with the next request, whose writes hold r1's finish.
      client.send([
        { type: "ack", ids: ["r1"] },
        { type: "request", id: "r2", queue: "lnk-early-acked", body: encodeBody(2) },
      ]);
      expect(await worker.next()).toMatchObject({ type: "dispatch", body: encodeBody(2) });
      await new Promise((resolve) => setTimeout(resolve, 50)); // past HOLD_WRITES_MS (held-writes.ts)
      const rows = await runInDurableObject(env.QUEUE.getByName("lnk-early-acked"), (_i, state) =>
        state.storage.sql
          .exec("SELECT client_id, state, outcome FROM requests ORDER BY rid")
          .toArray(),
      );
      expect(rows).toEqual([
        { client_id: "r1", state: "done", outcome: null },
        { client_id: "r2", state: "leased", outcome: null },
      ]);
      client.close();
      worker.close();
    });

    it("waits for the ack on the open link at the retry time (no copy), and re-sends on a newer link", async () => {
      const q = "lnk-early-retry";
      const worker = await serverSocket(q, "lnk-worker-11");
      const client = await linkSocket(q, "lnk-lee");
      client.send({ type: "request", id: "r1", queue: q, body: encodeBody(1) });
      const dispatch = await worker.next();
      worker.send({ type: "reply", id: idOf(dispatch), body: encodeBody("once") });
      expect(await client.next()).toMatchObject({ type: "accepted", id: "r1" });
      const first = await client.next();
      expect(first).toMatchObject({ type: "reply", id: "r1" });
      // No ack. Once the finish is written, its retry time is moved to now, as if it had passed.
      await new Promise((resolve) => setTimeout(resolve, 50)); // past EARLY_FINISH_WRITE_MS
      const stub = env.QUEUE.getByName(q);
      await runInDurableObject(stub, (_i, state) => {
        state.storage.sql.exec("UPDATE requests SET deliver_at = ? WHERE client_id = 'r1'", 1);
      });
      await runDurableObjectAlarm(stub);
      // A client that stops reading would otherwise get a copy every second, all held by the relay.
      expect(await typesBeforeBarrier(client)).toEqual([]);
      const newer = await linkSocket(q, "lnk-lee");
      expect((await client.closed).code).toBe(4001);
      expect(await newer.next()).toEqual(first);
      newer.close();
      worker.close();
    });

    it("does not hand an answered request to another server when its server leaves at once", async () => {
      const first = await serverSocket("lnk-early-leave", "lnk-worker-8");
      const client = await linkSocket("lnk-early-leave", "lnk-jo");
      client.send({ type: "request", id: "r1", queue: "lnk-early-leave", body: encodeBody(1) });
      const dispatch = await first.next();
      first.send({ type: "reply", id: idOf(dispatch), body: encodeBody(2) });
      expect(await client.next()).toMatchObject({ type: "accepted", id: "r1" });
      expect(await client.next()).toMatchObject({ type: "reply", id: "r1" });
      // The answer went down the link; its finish is not written yet (early-finishes.ts) when
      // the server leaves. (Closing right after sending is not the same: workerd may hand the
      // object the close before the reply, and a reply after its server left does not count.)
      first.close();
      const second = await serverSocket("lnk-early-leave", "lnk-worker-9");
      second.send({ type: "barrier" });
      expect(await second.next()).toMatchObject({ type: "error", code: "bad_request" });
      client.close();
      second.close();
    });
  });
});
