/**
 * The unread outcomes of an identity's HTTP requests count toward the exchange's cap on what it
 * holds per identity (outbox-limits.ts, http-unread.ts), in workerd: an identity whose unread
 * outcomes reach it gets its next POST (and its WebSocket requests) refused `429
 * too_many_in_flight`, storing nothing, while another identity on the same shard is served;
 * reading them (a poll, or GET /v1/requests/{id}) lets its next POST through; a read outcome is
 * kept 60 s for a retry and is gone after; a re-POST of its id then is refused `409 conflict`
 * and never runs again; the delivery that puts it at its cap tells the queue (which then refuses
 * its link requests, capped-identities.ts); the counts are read again after the object restarts. The probe that
 * found it: 80 replies of 1 MiB never read, 106 MiB held, and the next POST accepted.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ExchangeDO } from "../../durable-objects/exchange/exchange-do.js";
import { MAX_HELD_BYTES, READ_KEEP_MS } from "../../durable-objects/exchange/outbox-limits.js";
import type { Outcome } from "../../durable-objects/shared/contracts.js";
import { decodeOutcomesAnswer, encodeBody, type OutcomesAnswer } from "../../protocol/index.js";
import { expectNothingElse, TestSocket } from "./exchange-test-socket.js";
import { expectError, field, http, wsServer } from "./http-test-peer.js";

const MiB = 1024 * 1024;

/** Replies of 1 MiB: MAX_HELD_BYTES / MiB of them (32) reach the cap, with their frames' JSON. */
const CAP_REPLIES = MAX_HELD_BYTES / MiB;

const exchange = () => env.EXCHANGE.getByName("exchange");

function post(queue: string, identity: string, id: string, poller = "tab") {
  return http(`/v1/queues/${queue}/requests?async=true&timeout=60000`, {
    identity,
    contentType: "text/plain",
    body: id,
    headers: { "EdgeMQ-Request-Id": id, "EdgeMQ-Poller": poller },
  });
}

/** 1 MiB replies to `ids` of `to`, as the queue delivers the outcomes of HTTP requests. */
function bigReplies(to: string, ids: readonly string[]): Outcome[] {
  const body = encodeBody("x".repeat(MiB));
  return ids.map((id) => ({ to, frame: { type: "reply", id, body }, viaHttp: true }));
}

/**
 * Posts `count` requests of `identity` (no server takes them) and delivers each a reply of 1 MiB
 * that nobody reads, as the probe did. Returns their ids.
 */
async function hoard(identity: string, queue: string, count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `${identity}-${i}`);
  for (const id of ids) {
    const response = await post(queue, identity, id);
    expect(response.status).toBe(202);
    await response.arrayBuffer();
  }
  await runInDurableObject(exchange(), async (instance: ExchangeDO) => {
    for (let i = 0; i < ids.length; i += 8) {
      await instance.deliver(bigReplies(identity, ids.slice(i, i + 8)));
    }
  });
  return ids;
}

async function polled(identity: string, after = 0, poller = "tab"): Promise<OutcomesAnswer> {
  const response = await http(`/v1/outcomes?poller=${poller}&after=${after}`, {
    method: "GET",
    identity,
  });
  expect(response.status).toBe(200);
  const answer = decodeOutcomesAnswer(await response.json());
  if (typeof answer === "string") throw new Error(answer);
  return answer;
}

/** The stored rows of `identity`'s requests: id, expiry and when first read. */
function rows(identity: string) {
  return runInDurableObject(exchange(), (_instance, state) =>
    state.storage.sql
      .exec(
        "SELECT id, deadline, expires, read_at FROM http_requests WHERE identity = ? ORDER BY id",
        identity,
      )
      .toArray(),
  );
}

/** Moves `identity`'s read rows `ms` into the past, as if that long went by since their read. */
function readAgo(identity: string, ms: number) {
  return runInDurableObject(exchange(), (_instance, state) => {
    state.storage.sql.exec(
      `UPDATE http_requests SET read_at = read_at - ?, expires = expires - ?
       WHERE identity = ? AND read_at IS NOT NULL`,
      ms,
      ms,
      identity,
    );
  });
}

async function queued(queue: string): Promise<unknown> {
  const response = await http(`/v1/queues/${queue}/stats`, { method: "GET", identity: "viewer" });
  return field(await response.json(), "queued");
}

describe("an identity's unread HTTP outcomes", () => {
  it("count toward its cap: its next POST is refused 429 too_many_in_flight, storing nothing, saying how to read them; its WebSocket requests too; another identity is served", async () => {
    const q = "uc-refuse";
    await hoard("hoarder", q, CAP_REPLIES);
    expect(await queued(q)).toBe(CAP_REPLIES);

    const refused = await post(q, "hoarder", "one-more");
    expect(refused.status).toBe(429);
    expect(refused.headers.get("EdgeMQ-Request-Id")).toBe("one-more");
    const { error } = (await refused.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe("too_many_in_flight");
    expect(error.message).toContain("unread");
    expect(error.message).toContain("GET /v1/outcomes");
    expect(error.message).toContain("GET /v1/requests/{id}");
    // Nothing stored: not at the exchange, not in the queue.
    expect((await rows("hoarder")).map((r) => r.id)).not.toContain("one-more");
    await expectError(
      await http("/v1/requests/one-more", { method: "GET", identity: "hoarder" }),
      404,
      "not_found",
    );
    expect(await queued(q)).toBe(CAP_REPLIES);

    const { socket } = await TestSocket.client("hoarder");
    socket.send({ type: "request", id: "ws-1", queue: q, body: encodeBody("x"), timeout: 60_000 });
    expect(await socket.next()).toMatchObject({
      type: "error",
      id: "ws-1",
      code: "too_many_in_flight",
      message: expect.stringContaining("GET /v1/outcomes"),
    });
    socket.close();

    const bystander = await post(q, "bystander", "b-1");
    expect(bystander.status).toBe(202);
    await bystander.arrayBuffer();
  });

  it("are released by reading them: a poll lets the next POST through, and GET /v1/requests/{id} reads one too", async () => {
    const q = "uc-release";
    const ids = await hoard("reader", q, CAP_REPLIES);
    await expectError(await post(q, "reader", "capped"), 429, "too_many_in_flight");

    const first = await polled("reader");
    expect(first.outcomes.length).toBeGreaterThan(0);
    const admitted = await post(q, "reader", "admitted");
    expect(admitted.status).toBe(202);
    await admitted.arrayBuffer();

    const last = ids[ids.length - 1] ?? "";
    const byId = await http(`/v1/requests/${last}`, { method: "GET", identity: "reader" });
    expect(byId.status).toBe(200);
    await byId.arrayBuffer();
    const read = (await rows("reader")).filter((r) => r.read_at !== null).map((r) => r.id);
    expect(read.sort()).toEqual([...first.outcomes.map((o) => o.id), last].sort());
    const held = await runInDurableObject(exchange(), (instance: ExchangeDO) =>
      (instance as unknown as { held(identity: string): { count: number } }).held("reader"),
    );
    expect(held.count).toBe(CAP_REPLIES - read.length);
  });

  it("are kept 60 s once read, for a retry of the lost answer, and are gone after", async () => {
    const q = "uc-keep";
    await hoard("keeper", q, 2);
    const first = await polled("keeper");
    expect(first.outcomes.map((o) => o.id)).toEqual(["keeper-0", "keeper-1"]);
    for (const row of await rows("keeper")) {
      expect(Number(row.expires) - Number(row.read_at)).toBe(READ_KEEP_MS);
    }

    // A poll asked again with the same after (its answer was lost), and a GET by id, read them.
    expect((await polled("keeper")).outcomes.map((o) => o.id)).toEqual(["keeper-0", "keeper-1"]);
    const byId = await http("/v1/requests/keeper-0", { method: "GET", identity: "keeper" });
    expect(byId.status).toBe(200);
    await byId.arrayBuffer();

    await readAgo("keeper", READ_KEEP_MS + 1);
    expect((await polled("keeper")).outcomes).toEqual([]);
    await expectError(
      await http("/v1/requests/keeper-0", { method: "GET", identity: "keeper" }),
      404,
      "not_found",
    );
    await runDurableObjectAlarm(exchange());
    expect(await rows("keeper")).toEqual([]);
  });

  it("keep an unread outcome until its deadline plus the resume window", async () => {
    const q = "uc-unread";
    await hoard("unread-keeper", q, 1);
    const [row] = await rows("unread-keeper");
    expect(row?.read_at).toBeNull();
    expect(Number(row?.expires) - Number(row?.deadline)).toBe(5 * 60_000);
  });

  it("once read and purged: a re-POST of the id is refused 409 conflict and not run again, DELETE by id answers 404", async () => {
    const q = "uc-repost";
    const identity = "reposter";
    const server = await wsServer(q, "uc-worker");
    const sync = () =>
      http(`/v1/queues/${q}/requests?timeout=60000`, {
        identity,
        contentType: "text/plain",
        body: "once",
        headers: { "EdgeMQ-Request-Id": "again-1" },
      });
    const pending = sync();
    const dispatch = await server.next();
    server.send({ type: "reply", id: field(dispatch, "id"), body: encodeBody("done") });
    const answered = await pending;
    expect(answered.status).toBe(200);
    expect(await answered.text()).toBe("done");

    // Within 60 s of the read, the same POST answers the same outcome; nothing runs again.
    const retried = await sync();
    expect(retried.status).toBe(200);
    expect(await retried.text()).toBe("done");

    await readAgo(identity, READ_KEEP_MS + 1);
    await runDurableObjectAlarm(exchange());
    expect(await rows(identity)).toEqual([]);
    const late = await sync();
    await expectError(late, 409, "conflict");
    await expectNothingElse(server);
    await expectError(
      await http("/v1/requests/again-1", { method: "DELETE", identity }),
      404,
      "not_found",
    );
    server.close();
  });
});

describe("the counts of unread HTTP outcomes", () => {
  it("put the identity at its cap in the delivery's answer to the queue, and are read again from storage after the object restarts: still at its cap, and reading releases it", async () => {
    const identity = "rebuilt";
    const ids = Array.from({ length: CAP_REPLIES }, (_, i) => `rb-${i}`);
    await runInDurableObject(env.EXCHANGE.getByName("unread-rebuild"), async (instance, state) => {
      type Requests = { record(...args: [string, string, string, number, string]): number };
      const requests = (instance as unknown as { http: { requests: Requests } }).http.requests;
      for (const id of ids) requests.record(identity, id, "rb-q", Date.now() + 60_000, "tab");
      let answer: Awaited<ReturnType<ExchangeDO["deliver"]>> = { capped: [] };
      for (let i = 0; i < ids.length; i += 8) {
        answer = await instance.deliver(bigReplies(identity, ids.slice(i, i + 8)));
      }
      // The delivery that put it at its cap says so, so queues refuse its link requests too.
      expect(answer.capped).toEqual([{ identity, message: expect.stringContaining("unread") }]);

      const woken = new ExchangeDO(state, env);
      const submit = (id: string) =>
        woken.submit({
          identity,
          queue: "rb-q",
          request: { type: "request", id, queue: "rb-q", body: encodeBody(id) },
        });
      expect(await submit("after-restart")).toMatchObject({
        ok: false,
        error: { code: "too_many_in_flight" },
      });
      const read = await woken.pollOutcomes({ identity, poller: "tab", after: 0, waitMs: 0 });
      expect(read.frames.length).toBeGreaterThan(0);
      expect(await submit("after-read")).toMatchObject({ ok: true });
    });
  });
});
