/**
 * GET /v1/outcomes in workerd, through the front door: one long-poll for the outcomes of all of a
 * poller's requests (posted with EdgeMQ-Poller), in the order they ended, with the cursor to ask
 * after; a waiting poll answered by the next outcome; outcomes private to their identity and
 * poller; its parameters and header checked strictly. The exchange's side (budget, numbering
 * across purges, migration): exchange-outcome-polls.test.ts.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { decodeOutcomesAnswer, encodeBody, type OutcomesAnswer } from "../../protocol/index.js";
import { expectError, field, http, sleep, wsServer } from "./http-test-peer.js";

type Socket = Awaited<ReturnType<typeof wsServer>>;

/** An async POST of the request named `id` (its body is its id), with `poller` if given. */
function post(queue: string, identity: string, id: string, poller?: string): Promise<Response> {
  const headers: Record<string, string> = { "EdgeMQ-Request-Id": id };
  if (poller !== undefined) headers["EdgeMQ-Poller"] = poller;
  return http(`/v1/queues/${queue}/requests?async=true&timeout=60000`, {
    identity,
    body: id,
    headers,
  });
}

async function posted(queue: string, identity: string, id: string, poller?: string) {
  const response = await post(queue, identity, id, poller);
  expect(response.status).toBe(202);
  await response.arrayBuffer();
}

function poll(identity: string, query: string): Promise<Response> {
  return http(`/v1/outcomes?${query}`, { method: "GET", identity });
}

/** A poll's answer, checked as the route gives it: 200, JSON, never cached. */
async function answerOf(response: Response): Promise<OutcomesAnswer> {
  expect(response.status).toBe(200);
  expect(response.headers.get("Content-Type")).toBe("application/json");
  expect(response.headers.get("Cache-Control")).toBe("no-store");
  const answer = decodeOutcomesAnswer(await response.json());
  if (typeof answer === "string") throw new Error(answer);
  return answer;
}

async function polled(identity: string, query: string): Promise<OutcomesAnswer> {
  return answerOf(await poll(identity, query));
}

const idsOf = (answer: OutcomesAnswer) => answer.outcomes.map((o) => o.id);

/** Takes the next dispatch from `server`; returns its relay id and the client id it carries. */
async function nextDispatch(server: Socket): Promise<{ rid: unknown; id: unknown }> {
  const dispatch = await server.next();
  return { rid: field(dispatch, "id"), id: field(field(dispatch, "body"), "data") };
}

/**
 * Replies to the dispatched requests in `order` (client ids), one at a time: each outcome is
 * stored (read back with GET /v1/requests/{id}) before the next reply goes.
 */
async function replyInOrder(
  server: Socket,
  identity: string,
  dispatched: readonly { rid: unknown; id: unknown }[],
  order: readonly string[],
): Promise<void> {
  for (const id of order) {
    const { rid } = dispatched.find((d) => d.id === id) ?? {};
    if (id.startsWith("fail")) server.send({ type: "fail", id: rid, message: `${id} broke` });
    else server.send({ type: "reply", id: rid, body: encodeBody(`answer ${id}`) });
    const stored = await http(`/v1/requests/${id}?wait=5000`, { method: "GET", identity });
    expect(stored.status).not.toBe(204);
    await stored.arrayBuffer();
  }
}

/** Waits until the exchange holds a waiting poll (`http.polls`). */
async function pollWaiting(): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const size = await runInDurableObject(env.EXCHANGE.getByName("exchange"), (instance) => {
      const inside = instance as unknown as { http: { polls: { size: number } } };
      return inside.http.polls.size;
    });
    if (size > 0) return;
    await sleep(10);
  }
  throw new Error("no poll waits at the exchange");
}

describe("GET /v1/outcomes", () => {
  it("answers a poller's outcomes of several requests in one answer, in the order they ended, with the cursor", async () => {
    const q = "oc-several";
    const identity = "poll-ann";
    const server = await wsServer(q, "oc-worker-1");
    for (const id of ["ann-a", "ann-b", "fail-ann-c"]) await posted(q, identity, id, "tab-ann");
    const dispatched = [
      await nextDispatch(server),
      await nextDispatch(server),
      await nextDispatch(server),
    ];
    await replyInOrder(server, identity, dispatched, ["fail-ann-c", "ann-a", "ann-b"]);

    const first = await polled(identity, "poller=tab-ann&after=0");
    expect(first.outcomes).toEqual([
      { type: "error", id: "fail-ann-c", code: "server_error", message: "fail-ann-c broke" },
      { type: "reply", id: "ann-a", body: encodeBody("answer ann-a") },
      { type: "reply", id: "ann-b", body: encodeBody("answer ann-b") },
    ]);
    expect(first.after).toBeGreaterThan(0);
    // GET /v1/requests/{id} still reads each of them.
    const one = await http("/v1/requests/ann-a", { method: "GET", identity });
    expect(await one.text()).toBe("answer ann-a");
    server.close();
  });

  it("answers after=cursor with only the later outcomes, and an earlier after again with what it gave", async () => {
    const q = "oc-cursor";
    const identity = "poll-ben";
    const server = await wsServer(q, "oc-worker-2");
    await posted(q, identity, "ben-1", "tab-ben");
    await replyInOrder(server, identity, [await nextDispatch(server)], ["ben-1"]);
    const first = await polled(identity, "poller=tab-ben");
    expect(idsOf(first)).toEqual(["ben-1"]);

    const nothing = await polled(identity, `poller=tab-ben&after=${first.after}`);
    expect(nothing).toEqual({ outcomes: [], after: first.after });

    await posted(q, identity, "ben-2", "tab-ben");
    await posted(q, identity, "ben-3", "tab-ben");
    const later = [await nextDispatch(server), await nextDispatch(server)];
    await replyInOrder(server, identity, later, ["ben-3", "ben-2"]);
    const second = await polled(identity, `poller=tab-ben&after=${first.after}`);
    expect(idsOf(second)).toEqual(["ben-3", "ben-2"]);
    expect(second.after).toBeGreaterThan(first.after);
    // An answer lost in transit is read again by asking with the same after.
    const again = await polled(identity, `poller=tab-ben&after=${first.after}`);
    expect(again).toEqual(second);
    expect(idsOf(await polled(identity, "poller=tab-ben&after=0"))).toEqual([
      "ben-1",
      "ben-3",
      "ben-2",
    ]);
    server.close();
  });

  it("answers a waiting poll when an outcome arrives", async () => {
    const q = "oc-wait";
    const identity = "poll-cat";
    const server = await wsServer(q, "oc-worker-3");
    await posted(q, identity, "cat-1", "tab-cat");
    const { rid } = await nextDispatch(server);
    // Without the wake the poll waits its 30 s, past the test's timeout.
    const waiting = poll(identity, "poller=tab-cat&after=0&wait=30000");
    await pollWaiting();
    server.send({ type: "reply", id: rid, body: encodeBody("woken") });
    const answer = await answerOf(await waiting);
    expect(answer.outcomes).toEqual([{ type: "reply", id: "cat-1", body: encodeBody("woken") }]);
    expect(answer.after).toBeGreaterThan(0);
    server.close();
  });

  it("answers an empty list with the same after when nothing came within the wait", async () => {
    expect(await polled("poll-dan", "poller=tab-dan&after=7&wait=50")).toEqual({
      outcomes: [],
      after: 7,
    });
    expect(await polled("poll-dan", "poller=tab-dan")).toEqual({ outcomes: [], after: 0 });
  });

  it("never shows an outcome to another identity, another poller tag, or a poll of a request posted without the tag", async () => {
    const q = "oc-private";
    const server = await wsServer(q, "oc-worker-4");
    await posted(q, "poll-eve", "eve-1", "shared-tab");
    await posted(q, "poll-eve", "eve-2");
    await posted(q, "poll-fox", "fox-1", "shared-tab");
    const dispatched = [
      await nextDispatch(server),
      await nextDispatch(server),
      await nextDispatch(server),
    ];
    await replyInOrder(server, "poll-eve", dispatched, ["eve-1", "eve-2"]);
    await replyInOrder(server, "poll-fox", dispatched, ["fox-1"]);
    expect(idsOf(await polled("poll-eve", "poller=shared-tab"))).toEqual(["eve-1"]);
    expect(idsOf(await polled("poll-fox", "poller=shared-tab"))).toEqual(["fox-1"]);
    expect(await polled("poll-eve", "poller=other-tab")).toEqual({ outcomes: [], after: 0 });
    expect(await polled("poll-gus", "poller=shared-tab")).toEqual({ outcomes: [], after: 0 });
    server.close();
  });

  it("keeps the first POST's tag: a retried POST of a known id with another tag changes nothing", async () => {
    const q = "oc-retry";
    const identity = "poll-hal";
    const server = await wsServer(q, "oc-worker-5");
    await posted(q, identity, "hal-1", "tab-first");
    await posted(q, identity, "hal-1", "tab-second");
    await replyInOrder(server, identity, [await nextDispatch(server)], ["hal-1"]);
    expect(idsOf(await polled(identity, "poller=tab-first"))).toEqual(["hal-1"]);
    expect(idsOf(await polled(identity, "poller=tab-second"))).toEqual([]);
    server.close();
  });

  it("reads an outcome until 5 minutes past its request's deadline, then no more", async () => {
    const q = "oc-expiry";
    const identity = "poll-ida";
    const server = await wsServer(q, "oc-worker-6");
    await posted(q, identity, "ida-1", "tab-ida");
    await replyInOrder(server, identity, [await nextDispatch(server)], ["ida-1"]);
    const deadlineAgo = (ms: number) =>
      runInDurableObject(env.EXCHANGE.getByName("exchange"), (instance) => {
        type Requests = { accepted(identity: string, id: string, deadline: number): void };
        const clients = instance as unknown as { http: { requests: Requests } };
        clients.http.requests.accepted(identity, "ida-1", Date.now() - ms);
      });
    await deadlineAgo(5 * 60_000 - 60_000);
    expect(idsOf(await polled(identity, "poller=tab-ida"))).toEqual(["ida-1"]);
    await deadlineAgo(5 * 60_000 + 1);
    expect(idsOf(await polled(identity, "poller=tab-ida"))).toEqual([]);
    server.close();
  });

  it("refuses a missing or invalid poller, a bad after or wait, and unknown or repeated parameters with 400", async () => {
    for (const query of [
      "",
      "after=0",
      "poller=",
      "poller=a%20b",
      `poller=${"x".repeat(129)}`,
      "poller=tab&after=-1",
      "poller=tab&after=1.5",
      "poller=tab&after=x",
      "poller=tab&after=9007199254740993",
      "poller=tab&wait=60001",
      "poller=tab&pollr=tab",
      "poller=tab&poller=tab",
    ]) {
      const response = await poll("poll-jo", query);
      expect(response.status, query).toBe(400);
      await expectError(response, 400, "bad_request");
    }
    const missing = await poll("poll-jo", "after=0");
    expect(await missing.text()).toContain("poller is required");
  });

  it("refuses with 400 an after past every outcome number given, which would wait in vain", async () => {
    const ahead = await poll(
      "poll-lee",
      `poller=tab-lee&after=${Number.MAX_SAFE_INTEGER}&wait=30000`,
    );
    await expectError(ahead, 400, "bad_request");
    const later = (Date.now() + 60_000) * 1000;
    await expectError(await poll("poll-lee", `poller=tab-lee&after=${later}`), 400, "bad_request");
    // A cursor at the clock's worth, or one of an answer, is a cursor.
    const now = Date.now() * 1000;
    expect(await polled("poll-lee", `poller=tab-lee&after=${now}`)).toEqual({
      outcomes: [],
      after: now,
    });
  });

  it("refuses a POST whose EdgeMQ-Poller breaks the rule with 400, storing nothing", async () => {
    const identity = "poll-kim";
    const refused = await post("oc-bad-tag", identity, "kim-1", "not a tag");
    expect(refused.status).toBe(400);
    const body = await refused.text();
    expect(body).toContain("EdgeMQ-Poller must be");
    const later = await http("/v1/requests/kim-1", { method: "GET", identity });
    await expectError(later, 404, "not_found");
  });
});
