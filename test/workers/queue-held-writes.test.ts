/**
 * Held writes in workerd (held-writes.ts, queue-state.ts holdWrites): a durable partition that is
 * quiet dispatches a link's request before storing it, and stores it in the next event. Checked
 * here: the request ends up stored and answered as usual, a repeat of its id within the same
 * message or in the next one is a resend, held writes that cannot be written close the
 * partition's links (going away) so clients re-send, with nothing stored half-way, and a
 * server's answer goes down the link before the held writes run. Also: a resend of a request
 * that ended while its writes are held gets its `accepted`, and a second answer to a request in
 * the answer's own message is refused (`conflict`) without replacing the first.
 */
import { abortAllDurableObjects, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { dispatchReady } from "../../durable-objects/queue/dispatcher.js";
import type { QueueDO } from "../../durable-objects/queue/queue-do.js";
import type { QueueState } from "../../durable-objects/queue/queue-state.js";
import { CLOSE_CODE, encodeBody } from "../../protocol/index.js";
import { idOf, linkSocket, serverSocket, TestSocket } from "./exchange-test-socket.js";

/** The requests table of queue `queue`'s object: client id and state per row. */
/** The queue's request rows in rid order, each with `columns` (default: client_id and state). */
async function rows(
  queue: string,
  columns: readonly string[] = ["client_id", "state"],
): Promise<Record<string, unknown>[]> {
  const found = await runInDurableObject(env.QUEUE.getByName(queue), (_instance, state) =>
    state.storage.sql.exec(`SELECT ${columns.join(", ")} FROM requests ORDER BY rid`).toArray(),
  );
  return found.map((row) => Object.fromEntries(columns.map((c) => [c, row[c]])));
}

/**
 * Long enough for held writes (held-writes.ts: HOLD_WRITES_MS) and an answer's finish, sent
 * early (early-finishes.ts: 10 ms), to be written.
 */
const settled = () => new Promise((resolve) => setTimeout(resolve, 50));

/** The QueueDO's state (a private field), for the tests that reach inside. */
function stateOf(instance: QueueDO): QueueState {
  return (instance as unknown as { state: QueueState }).state;
}

/**
 * Makes queue `queue`'s object hold quiet requests' writes, and `accepted` frames waiting for
 * their outcomes, for a minute: no timer of theirs fires during a test (held-writes.ts).
 */
async function holdLong(queue: string): Promise<void> {
  await runInDurableObject(env.QUEUE.getByName(queue), (instance) => {
    type Holds = { holdMs: number };
    const inside = instance as unknown as { linkEnqueues: Holds; state: { links: Holds } };
    inside.linkEnqueues.holdMs = 60_000;
    inside.state.links.holdMs = 60_000;
  });
}

/**
 * Holds this event's writes and inserts request `id` of `from` (queue `queue`, body 1) while
 * they are held, as a link's request to a quiet partition would be; its row id.
 */
function holdAndInsert(state: QueueState, queue: string, from: string, id: string): number {
  const body = encodeBody(1);
  expect(state.holdWrites([{ type: "request", id, queue, body }])).toBe(true);
  const now = Date.now();
  const rid = state.store.insert({
    clientId: id,
    from,
    body,
    headers: undefined,
    deadline: now + 60_000,
    now,
    sawServer: true,
    viaLink: true,
  });
  expect(rid).toBeTypeOf("number");
  return rid ?? 0;
}

/** Another row takes row id `rid` first, so the held insert of that id will fail. */
function squat(sql: SqlStorage, rid: number): void {
  sql.exec(
    `INSERT INTO requests (rid, client_id, from_identity, deadline, created, state)
     VALUES (?, 'squatter', 'held-x', 0, 0, 'done')`,
    rid,
  );
}

/** Client sends request `id` on its link; the server answers it; both frames reach the client. */
async function answerOne(
  worker: Awaited<ReturnType<typeof serverSocket>>,
  client: Awaited<ReturnType<typeof linkSocket>>,
  queue: string,
  id: string,
): Promise<void> {
  client.send({ type: "request", id, queue, body: encodeBody(0) });
  const dispatch = await worker.next();
  worker.send({ type: "reply", id: idOf(dispatch), body: encodeBody(0) });
  expect(await client.take(2)).toMatchObject([{ type: "accepted" }, { type: "reply" }]);
}

describe("held writes (durable queue, quiet partition)", () => {
  it("stores a link request dispatched before its write, and finishes it as usual", async () => {
    const worker = await serverSocket("held-1", "held-w1");
    const client = await linkSocket("held-1", "held-alice");
    for (const id of ["r1", "r2"]) {
      client.send({ type: "request", id, queue: "held-1", body: encodeBody(id) });
      const dispatch = await worker.next();
      expect(dispatch).toMatchObject({
        type: "dispatch",
        from: "held-alice",
        body: encodeBody(id),
      });
      worker.send({ type: "reply", id: idOf(dispatch), body: encodeBody(`${id}!`) });
      expect(await client.take(2)).toEqual([
        { type: "accepted", id, deadline: expect.any(Number) },
        { type: "reply", id, body: encodeBody(`${id}!`) },
      ]);
      client.send({ type: "ack", ids: [id] });
    }
    // r2's message wrote r1's finish; r2's own is written by the next transaction or timer.
    await settled();
    expect(await rows("held-1")).toEqual([
      { client_id: "r1", state: "done" },
      { client_id: "r2", state: "done" },
    ]);
    client.close();
    worker.close();
  });

  it("treats a repeat of a held request's id, in its message or the next, as a resend", async () => {
    const worker = await serverSocket("held-2", "held-w2");
    const client = await linkSocket("held-2", "held-bob");
    const frame = { type: "request", id: "same", queue: "held-2", body: encodeBody(1) };
    client.send([frame, frame]);
    client.send(frame);
    const [first, second] = await client.take(2);
    expect(first).toMatchObject({ type: "accepted", id: "same" });
    expect(second).toEqual(first);
    expect(await client.next()).toEqual(first);
    const dispatch = await worker.next();
    worker.send({ type: "reply", id: idOf(dispatch), body: encodeBody(2) });
    expect(await client.next()).toMatchObject({ type: "reply", id: "same" });
    await settled();
    expect(await rows("held-2")).toEqual([{ client_id: "same", state: "done" }]);
    expect(worker.buffered).toBe(0);
    client.close();
    worker.close();
  });

  it("tells a new id from a resend whatever its order: above every stored id, or looked up", async () => {
    const worker = await serverSocket("held-4", "held-w4");
    let client = await linkSocket("held-4", "held-dan");
    const run = async (id: string, expectDispatch: boolean) => {
      client.send({ type: "request", id, queue: "held-4", body: encodeBody(id) });
      if (!expectDispatch) {
        expect(await client.next()).toMatchObject({ type: "accepted", id });
        return;
      }
      const dispatch = await worker.next();
      expect(dispatch).toMatchObject({ type: "dispatch", body: encodeBody(id) });
      worker.send({ type: "reply", id: idOf(dispatch), body: encodeBody(id) });
      expect(await client.take(2)).toMatchObject([
        { type: "accepted", id },
        { type: "reply", id },
      ]);
      client.send({ type: "ack", ids: [id] });
      await settled();
    };
    await run("b-2", true);
    await run("b-3", true);
    await run("b-1", true); // below the largest id, and new
    await run("b-2", false); // a resend below the largest: found, not run again
    client.close();
    // After a restart the largest id is read back from SQLite.
    await abortAllDurableObjects();
    const worker2 = await serverSocket("held-4", "held-w4b");
    client = await linkSocket("held-4", "held-dan");
    client.send({ type: "request", id: "b-3", queue: "held-4", body: encodeBody(3) });
    expect(await client.next()).toMatchObject({ type: "accepted", id: "b-3" });
    client.send({ type: "request", id: "b-4", queue: "held-4", body: encodeBody(4) });
    expect(await worker2.next()).toMatchObject({ type: "dispatch", body: encodeBody(4) });
    await settled();
    expect((await rows("held-4")).map((r) => r.client_id)).toEqual(["b-2", "b-3", "b-1", "b-4"]);
    expect(worker.buffered).toBe(0);
    client.close();
    worker2.close();
  });

  it("sends a server's answer down the link before running the writes its request's event held", async () => {
    const worker = await serverSocket("held-5", "held-w5");
    const client = await linkSocket("held-5", "held-erin");
    await answerOne(worker, client, "held-5", "first");
    client.send({ type: "ack", ids: ["first"] });
    await settled();

    // A request dispatched with its writes held, and no timer to write them: the server's
    // answer is the next event, which leaves them held; the next call after it writes them.
    // A squatter on its row id makes those writes fail there.
    await runInDurableObject(env.QUEUE.getByName("held-5"), (instance, ctx) => {
      const state = stateOf(instance);
      const rid = holdAndInsert(state, "held-5", "held-erin", "held");
      state.readyIndex().add("held-erin", rid);
      expect(dispatchReady(state.dispatchDeps(Date.now()))).toBe(1);
      state.outbox.flush();
      squat(ctx.storage.sql, rid);
    });
    const dispatch = await worker.next();
    expect(dispatch).toMatchObject({ type: "dispatch", from: "held-erin", body: encodeBody(1) });
    worker.send({ type: "reply", id: idOf(dispatch), body: encodeBody("answer") });
    // The answer left before the held writes ran (and failed, closing the link).
    expect(await client.next()).toEqual({ type: "reply", id: "held", body: encodeBody("answer") });
    await env.QUEUE.getByName("held-5").stats();
    expect((await client.closed).code).toBe(CLOSE_CODE.goingAway);
    worker.close();
  });

  it("joins a quiet client's next requests and acks to the writes held, till an event that does not join", async () => {
    const q = "held-6";
    const worker = await serverSocket(q, "held-w6");
    const client = await linkSocket(q, "held-fay");
    await holdLong(q);
    await answerOne(worker, client, q, "r1");
    // As the SDK does: the ack rides with the next request.
    client.send([
      { type: "ack", ids: ["r1"] },
      { type: "request", id: "r2", queue: q, body: encodeBody(0) },
    ]);
    const dispatch = await worker.next();
    worker.send({ type: "reply", id: idOf(dispatch), body: encodeBody(0) });
    expect(await client.take(2)).toMatchObject([{ type: "accepted" }, { type: "reply" }]);
    client.send({ type: "ack", ids: ["r2"] });
    await settled(); // past the early finishes' timer, which leaves held writes to carry them
    const held = await runInDurableObject(env.QUEUE.getByName(q), (instance) => {
      return stateOf(instance).holding;
    });
    expect(held).toBe(true);
    expect(await rows(q)).toEqual([]);
    // Any other call writes them first, in one transaction: both requests, done and delivered.
    expect(await env.QUEUE.getByName(q).stats()).toMatchObject({ queued: 0, leased: 0 });
    expect(await rows(q, ["client_id", "state", "outcome"])).toEqual([
      { client_id: "r1", state: "done", outcome: null },
      { client_id: "r2", state: "done", outcome: null },
    ]);
    client.close();
    worker.close();
  });

  it("answers a resend of a request that ended while its writes are held with its accepted", async () => {
    const q = "held-7";
    const worker = await serverSocket(q, "held-w7");
    const client = await linkSocket(q, "held-gus");
    await holdLong(q);
    client.send({ type: "request", id: "r1", queue: q, body: encodeBody(0) });
    const dispatch = await worker.next();
    worker.send({ type: "reply", id: idOf(dispatch), body: encodeBody("done") });
    const [accepted] = await client.take(2);
    expect(accepted).toMatchObject({ type: "accepted", id: "r1" });
    await settled(); // its finish, sent early, is written into the writes still held
    client.send({ type: "request", id: "r1", queue: q, body: encodeBody(0) });
    expect(await client.next()).toEqual(accepted);
    expect(worker.buffered).toBe(0);
    client.close();
    worker.close();
  });

  it("refuses a second answer to a request in the same message with conflict; the first stands", async () => {
    const q = "held-8";
    const worker = await serverSocket(q, "held-w8");
    const { socket: exchange } = await TestSocket.client("held-hal");
    const client = await linkSocket(q, "held-hal");
    client.send({ type: "request", id: "r1", queue: q, body: encodeBody(0) });
    const id = idOf(await worker.next());
    worker.send([
      { type: "reply", id, body: encodeBody("first") },
      { type: "fail", id, message: "second" },
    ]);
    expect(await client.take(2)).toEqual([
      expect.objectContaining({ type: "accepted", id: "r1" }),
      { type: "reply", id: "r1", body: encodeBody("first") },
    ]);
    expect(await worker.next()).toMatchObject({ type: "error", id, code: "conflict" });
    // Not acked on the link: the stored outcome comes again through the exchange, the same one.
    client.close();
    expect(await exchange.next()).toEqual({ type: "reply", id: "r1", body: encodeBody("first") });
    exchange.close();
    worker.close();
  });

  it("closes the links (going away) when held writes cannot be written, storing none of them", async () => {
    const worker = await serverSocket("held-3", "held-w3");
    const client = await linkSocket("held-3", "held-carol");
    await answerOne(worker, client, "held-3", "first");
    client.send({ type: "ack", ids: ["first"] });
    await settled(); // "first" is written: only what is held from here on is lost

    await runInDurableObject(env.QUEUE.getByName("held-3"), (instance, ctx) => {
      const state = stateOf(instance);
      squat(ctx.storage.sql, holdAndInsert(state, "held-3", "held-carol", "lost"));
      state.writeHeld();
      expect(state.holding).toBe(false);
    });
    expect((await client.closed).code).toBe(CLOSE_CODE.goingAway);
    const stored = await rows("held-3");
    expect(stored.map((r) => r.client_id)).toEqual(["first", "squatter"]);
    worker.close();
  });
});
