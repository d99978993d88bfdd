/**
 * The HTTP API for clients in workerd: a curl-style request served by a WebSocket server, with
 * bodies and Content-Types carried both ways, async requests read back by long-poll, ids private
 * to their identity, and error outcomes as JSON with their statuses.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { RateLimiter } from "../../durable-objects/shared/token-bucket.js";
import { encodeBody } from "../../protocol/index.js";
import { linkSocket, TestSocket } from "./exchange-test-socket.js";
import { expectError, field, http, wsServer } from "./http-test-peer.js";

/** The resume window: an HTTP request's outcome is kept this long past its deadline. */
const FIVE_MINUTES = 5 * 60_000;

describe("HTTP clients", () => {
  it("sends a JSON request to a WebSocket server and gets the reply's body and Content-Type", async () => {
    const server = await wsServer("hc-json", "hc-worker-1");
    const pending = http("/v1/queues/hc-json/requests", {
      identity: "curl-alice",
      contentType: "application/json",
      body: '{"n":21}',
    });
    const dispatch = await server.next();
    expect(dispatch).toMatchObject({ type: "dispatch", from: "curl-alice", queue: "hc-json" });
    expect(field(dispatch, "body")).toEqual({
      enc: "json",
      data: '{"n":21}',
      type: "application/json",
    });
    server.send({
      type: "reply",
      id: field(dispatch, "id"),
      body: { enc: "utf8", data: "héllo, wörld", type: "text/plain; charset=utf-8" },
    });
    const response = await pending;
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(response.headers.get("EdgeMQ-Request-Id")).toMatch(/^[0-9a-f-]{36}$/);
    expect(await response.text()).toBe("héllo, wörld");
    server.close();
  });

  it("carries binary bodies byte for byte in both directions, with their media types", async () => {
    const server = await wsServer("hc-bin", "hc-worker-2");
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff]);
    const pending = http("/v1/queues/hc-bin/requests", {
      identity: "curl-bin",
      contentType: "image/png",
      body: png,
    });
    const dispatch = await server.next();
    expect(field(dispatch, "body")).toEqual({ ...encodeBody(png), type: "image/png" });
    const answer = new Uint8Array([0, 1, 2, 253, 254, 255]);
    server.send({
      type: "reply",
      id: field(dispatch, "id"),
      body: { ...encodeBody(answer), type: "application/x-thing" },
    });
    const response = await pending;
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/x-thing");
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(answer);
    server.close();
  });

  it("sends a body without Content-Type as octet-stream and gives an SDK reply its encoding's type", async () => {
    const server = await wsServer("hc-sdk", "hc-worker-3");
    const bytes = new TextEncoder().encode("x");
    const pending = http("/v1/queues/hc-sdk/requests", { identity: "curl-sdk", body: bytes });
    const dispatch = await server.next();
    expect(field(dispatch, "body")).toEqual({
      enc: "base64",
      data: "eA==",
      type: "application/octet-stream",
    });
    server.send({ type: "reply", id: field(dispatch, "id"), body: encodeBody({ ok: true }) });
    const response = await pending;
    expect(response.headers.get("content-type")).toBe("application/json");
    expect(await response.json()).toEqual({ ok: true });
    server.close();
  });

  it("answers async=true with 202 and the id, then 204 while pending, then 200 with the reply", async () => {
    const server = await wsServer("hc-async", "hc-worker-4");
    const accepted = await http("/v1/queues/hc-async/requests?async=true", {
      identity: "curl-bob",
      contentType: "text/plain",
      body: "ping",
    });
    expect(accepted.status).toBe(202);
    const { id } = (await accepted.json()) as { id: string };
    expect(accepted.headers.get("Location")).toBe(`/v1/requests/${id}`);

    const before = await http(`/v1/requests/${id}?wait=0`, { method: "GET", identity: "curl-bob" });
    expect(before.status).toBe(204);
    expect(before.headers.get("EdgeMQ-Request-Id")).toBe(id);

    const polling = http(`/v1/requests/${id}?wait=10000`, { method: "GET", identity: "curl-bob" });
    const dispatch = await server.next();
    expect(field(dispatch, "body")).toEqual({ enc: "utf8", data: "ping", type: "text/plain" });
    server.send({ type: "reply", id: field(dispatch, "id"), body: encodeBody("pong") });
    const after = await polling;
    expect(after.status).toBe(200);
    expect(await after.text()).toBe("pong");

    const again = await http(`/v1/requests/${id}`, { method: "GET", identity: "curl-bob" });
    expect(again.status).toBe(200);
    expect(await again.text()).toBe("pong");
    server.close();
  });

  it("cancels a request at the URL its 202 gave (DELETE on Location): the server is told, the outcome is cancelled", async () => {
    const server = await wsServer("hc-cancel-loc", "hc-worker-loc");
    const identity = "curl-lou";
    const accepted = await http("/v1/queues/hc-cancel-loc/requests?async=true&timeout=60000", {
      identity,
      contentType: "text/plain",
      body: "slow",
    });
    const location = accepted.headers.get("Location") ?? "";
    const dispatch = await server.next();
    const cancelled = await http(location, { method: "DELETE", identity });
    expect(cancelled.status).toBe(204);
    expect(await server.next()).toMatchObject({ type: "cancel", id: field(dispatch, "id") });
    const outcome = await http(`${location}?wait=5000`, { method: "GET", identity });
    await expectError(outcome, 499, "cancelled");
    // Another identity's id is unknown here, as on GET.
    const theirs = await http(location, { method: "DELETE", identity: "curl-mia" });
    expect(theirs.status).toBe(404);
    // A request past its deadline is still found (204) until the resume window passes.
    expect(await theirs.json()).toEqual({
      error: {
        code: "not_found",
        message: expect.stringContaining(
          "(unknown, or its deadline and the 5 min resume window passed",
        ),
      },
    });
    server.close();
  });

  it("counts a POST's timeout from when the front door received it, not from when the exchange got to it", async () => {
    const queue = "hc-receipt";
    const exchange = env.EXCHANGE.getByName("exchange");
    const request = {
      type: "request" as const,
      id: "rc-1",
      queue,
      body: { enc: "utf8" as const, data: "x" },
      timeout: 10_000,
    };
    // As if the POST had waited 3 s for the exchange (a busy object).
    const receivedAt = Date.now() - 3_000;
    const answer = await exchange.submit({ identity: "curl-rc", queue, request, receivedAt });
    expect(answer.ok).toBe(true);
    const deadline = answer.ok ? answer.deadline : 0;
    expect(deadline).toBeGreaterThanOrEqual(receivedAt + 10_000);
    expect(deadline).toBeLessThan(receivedAt + 10_000 + 1_000);
  });

  it("names the request and its deadline on the 202, on a pending 204 and to the server that takes it", async () => {
    const q = "hc-deadline";
    const before = Date.now();
    const accepted = await http(`/v1/queues/${q}/requests?async=true&timeout=60000`, {
      identity: "curl-dora",
      body: "x",
    });
    const after = Date.now();
    expect(accepted.status).toBe(202);
    const body: unknown = await accepted.json();
    const id = field(body, "id");
    const deadline = field(body, "deadline");
    if (typeof id !== "string" || typeof deadline !== "number") throw new Error("202 body");
    expect(body).toEqual({ id, deadline });
    expect(accepted.headers.get("EdgeMQ-Request-Id")).toBe(id);
    expect(accepted.headers.get("EdgeMQ-Deadline")).toBe(String(deadline));
    expect(deadline).toBeGreaterThanOrEqual(before + 60_000);
    expect(deadline).toBeLessThanOrEqual(after + 60_000);

    const pending = await http(`/v1/requests/${id}?wait=0`, {
      method: "GET",
      identity: "curl-dora",
    });
    expect(pending.status).toBe(204);
    expect(pending.headers.get("EdgeMQ-Request-Id")).toBe(id);
    expect(pending.headers.get("EdgeMQ-Deadline")).toBe(String(deadline));

    const taken = await http(`/v1/queues/${q}/take`, { identity: "hc-worker-dora" });
    expect(taken.status).toBe(200);
    expect(taken.headers.get("EdgeMQ-Deadline")).toBe(String(deadline));
    await taken.arrayBuffer();
  });

  it("answers 404 when another identity asks for a request id, and never shows its reply", async () => {
    const server = await wsServer("hc-private", "hc-worker-5");
    const accepted = await http("/v1/queues/hc-private/requests?async=true", {
      identity: "owner",
      contentType: "application/json",
      body: "1",
    });
    const { id } = (await accepted.json()) as { id: string };
    const dispatch = await server.next();
    server.send({ type: "reply", id: field(dispatch, "id"), body: encodeBody("secret") });
    const mine = await http(`/v1/requests/${id}?wait=10000`, { method: "GET", identity: "owner" });
    expect(await mine.text()).toBe("secret");
    const theirs = await http(`/v1/requests/${id}?wait=0`, { method: "GET", identity: "snoop" });
    await expectError(theirs, 404, "not_found");
    server.close();
  });

  it("answers 404 for an id that was never issued", async () => {
    const response = await http("/v1/requests/never-issued?wait=0", {
      method: "GET",
      identity: "owner",
    });
    await expectError(response, 404, "not_found");
  });

  it("answers a handler's failure with 502 server_error as JSON", async () => {
    const server = await wsServer("hc-fail", "hc-worker-6");
    const pending = http("/v1/queues/hc-fail/requests", { identity: "curl-carol", body: "x" });
    const dispatch = await server.next();
    server.send({ type: "fail", id: field(dispatch, "id"), message: "handler broke" });
    const response = await pending;
    expect(response.headers.get("EdgeMQ-Request-Id")).toMatch(/^[0-9a-f-]{36}$/);
    expect(await response.json()).toEqual({
      error: { code: "server_error", message: "handler broke" },
    });
    expect(response.status).toBe(502);
    server.close();
  });

  it("answers 503 no_responders when no server was connected before the deadline", async () => {
    const response = await http("/v1/queues/hc-nobody/requests?timeout=50", {
      identity: "curl-dave",
      body: "x",
    });
    await expectError(response, 503, "no_responders");
  });

  it("answers failFast with 503 no_responders at once when no server is connected", async () => {
    const response = await http("/v1/queues/hc-nobody-2/requests?failFast=true", {
      identity: "curl-dave",
      body: "x",
    });
    expect(response.headers.get("EdgeMQ-Request-Id")).toMatch(/^[0-9a-f-]{36}$/);
    await expectError(response, 503, "no_responders");
  });

  it("names the client's own id on a refusal at submit, which stores nothing to read back", async () => {
    const response = await http("/v1/queues/hc-nobody-3/requests?failFast=true", {
      identity: "curl-dave",
      body: "x",
      headers: { "EdgeMQ-Request-Id": "dave-1" },
    });
    expect(response.headers.get("EdgeMQ-Request-Id")).toBe("dave-1");
    await expectError(response, 503, "no_responders");
    const later = await http("/v1/requests/dave-1", { identity: "curl-dave", method: "GET" });
    await expectError(later, 404, "not_found");
  });

  it("refuses with 409 conflict an id this identity already used over a WebSocket, whose client keeps its outcome", async () => {
    const { socket } = await TestSocket.client("mixed-frank");
    socket.send({ type: "request", id: "frank-1", queue: "hc-mixed-ids", body: encodeBody("ws") });
    expect(await socket.next()).toMatchObject({ type: "accepted", id: "frank-1" });
    const response = await http("/v1/queues/hc-mixed-ids/requests?async=true", {
      identity: "mixed-frank",
      body: "http",
      headers: { "EdgeMQ-Request-Id": "frank-1" },
    });
    await expectError(response, 409, "conflict");
    const later = await http("/v1/requests/frank-1", { identity: "mixed-frank", method: "GET" });
    await expectError(later, 404, "not_found");
    socket.close();
  });

  it("refuses with conflict a WebSocket request, on the exchange or a queue link, that reuses an HTTP request's id", async () => {
    const q = "hc-mixed-reverse";
    const accepted = await http(`/v1/queues/${q}/requests?async=true`, {
      identity: "mixed-hank",
      body: "http",
      headers: { "EdgeMQ-Request-Id": "hank-1" },
    });
    expect(accepted.status).toBe(202);
    const { socket } = await TestSocket.client("mixed-hank");
    socket.send({ type: "request", id: "hank-1", queue: q, body: encodeBody("ws") });
    expect(await socket.next()).toMatchObject({ type: "error", id: "hank-1", code: "conflict" });
    const link = await linkSocket(q, "mixed-hank");
    link.send({ type: "request", id: "hank-1", queue: q, body: encodeBody("link") });
    expect(await link.next()).toMatchObject({ type: "error", id: "hank-1", code: "conflict" });
    // The HTTP request is untouched: it runs once and its outcome is the HTTP caller's.
    const server = await wsServer(q, "hc-worker-reverse");
    const dispatch = await server.next();
    expect(field(dispatch, "body")).toMatchObject({ data: "http" });
    server.send({ type: "reply", id: field(dispatch, "id"), body: encodeBody("done") });
    const outcome = await http("/v1/requests/hank-1?wait=5000", {
      identity: "mixed-hank",
      method: "GET",
    });
    expect(await outcome.text()).toBe("done");
    // A retry of the POST is still the same request.
    const retried = await http(`/v1/queues/${q}/requests?async=true`, {
      identity: "mixed-hank",
      body: "http",
      headers: { "EdgeMQ-Request-Id": "hank-1" },
    });
    expect(retried.status).toBe(202);
    server.close();
    link.close();
    socket.close();
  });

  it("answers a retry of a POST whose first call stored the request but lost its answer as the same request", async () => {
    const q = "hc-lost-answer";
    const exchange = env.EXCHANGE.getByName("exchange");
    await runInDurableObject(exchange, (instance) => {
      // The exchange's call to the queue stores the request, then fails (a dropped connection).
      type Queue = (
        queue: string,
        identity: string,
      ) => { enqueue(input: unknown): Promise<unknown> };
      const clients = (instance as unknown as { http: { queue: Queue } }).http;
      const real = clients.queue;
      let failures = 1;
      clients.queue = (queue, identity) => ({
        enqueue: async (input) => {
          const answers = await real(queue, identity).enqueue(input);
          if (failures-- > 0) throw new Error("Network connection lost.");
          return answers;
        },
      });
    });
    const post = () =>
      http(`/v1/queues/${q}/requests?async=true`, {
        identity: "curl-gina",
        body: "job",
        headers: { "EdgeMQ-Request-Id": "gina-1" },
      });
    await expectError(await post(), 500, "internal");
    const retried = await post();
    expect(retried.status).toBe(202);
    const server = await wsServer(q, "hc-worker-lost");
    const dispatch = await server.next();
    server.send({ type: "reply", id: field(dispatch, "id"), body: encodeBody("done") });
    const outcome = await http("/v1/requests/gina-1?wait=5000", {
      identity: "curl-gina",
      method: "GET",
    });
    expect(await outcome.text()).toBe("done");
    server.close();
  });

  it("answers POSTs of one id that reach the exchange at once as one request, keeping its record and outcome", async () => {
    // A client retrying a POST that seemed lost while the first is still on its way to the queue:
    // the retry's call to the queue may arrive there first.
    const q = "hc-same-id";
    const identity = "curl-iona";
    const request = { type: "request", id: "iona-1", queue: q, body: encodeBody("once") } as const;
    const answers = await runInDurableObject(env.EXCHANGE.getByName("exchange"), (instance) =>
      Promise.all([
        instance.submit({ identity, queue: q, request, poller: "tab-iona" }),
        instance.submit({ identity, queue: q, request, poller: "tab-iona" }),
        instance.submit({ identity, queue: "hc-same-id-other", request }),
      ]),
    );
    expect(answers.map((a) => (a.ok ? "ok" : a.error.code))).toEqual(["ok", "ok", "conflict"]);
    const server = await wsServer(q, "hc-worker-same-id");
    const dispatch = await server.next();
    server.send({ type: "reply", id: field(dispatch, "id"), body: encodeBody("done") });
    const outcome = await http("/v1/requests/iona-1?wait=5000", { identity, method: "GET" });
    expect(await outcome.text()).toBe("done");
    const polled = await http("/v1/outcomes?poller=tab-iona", { identity, method: "GET" });
    expect(await polled.json()).toMatchObject({ outcomes: [{ type: "reply", id: "iona-1" }] });
    server.close();
  });

  it("delivers a WebSocket request's reply to its socket even when the exchange still holds an HTTP record of its id", async () => {
    // The HTTP request ran and ended; its queue row is gone (a short dedup window, or a memory
    // queue's restart) while the exchange keeps its record for the resume window.
    const q = "hc-record-kept";
    const server = await wsServer(q, "hc-worker-kept");
    const post = http(`/v1/queues/${q}/requests`, {
      identity: "mixed-jan",
      body: "http",
      headers: { "EdgeMQ-Request-Id": "jan-1" },
    });
    const first = await server.next();
    server.send({ type: "reply", id: field(first, "id"), body: encodeBody("http-done") });
    expect(await (await post).text()).toBe("http-done");
    await runInDurableObject(env.QUEUE.getByName(q), (_instance, state) => {
      state.storage.sql.exec("DELETE FROM requests WHERE client_id = 'jan-1'");
    });
    const { socket } = await TestSocket.client("mixed-jan");
    socket.send({ type: "request", id: "jan-1", queue: q, body: encodeBody("ws") });
    expect(await socket.next()).toMatchObject({ type: "accepted", id: "jan-1" });
    const second = await server.next();
    server.send({ type: "reply", id: field(second, "id"), body: encodeBody("ws-done") });
    expect(await socket.next()).toMatchObject({
      type: "reply",
      id: "jan-1",
      body: encodeBody("ws-done"),
    });
    // The HTTP caller's outcome is untouched.
    const stored = await http("/v1/requests/jan-1", { identity: "mixed-jan", method: "GET" });
    expect(await stored.text()).toBe("http-done");
    socket.close();
    server.close();
  });

  it("answers 504 timeout, not 204 pending, for a request with no outcome 5 s past its deadline", async () => {
    // As after a memory queue's restart lost the request: the exchange's record stays pending.
    const exchange = env.EXCHANGE.getByName("exchange");
    await runInDurableObject(exchange, (instance) => {
      type Requests = { record(identity: string, id: string, queue: string, at: number): number };
      const clients = instance as unknown as { http: { requests: Requests } };
      clients.http.requests.record("curl-ivan", "lost-1", "hc-lost", Date.now() - 6_000);
      clients.http.requests.record("curl-ivan", "late-1", "hc-lost", Date.now() - 1_000);
    });
    const get = (id: string) =>
      http(`/v1/requests/${id}`, { identity: "curl-ivan", method: "GET" });
    await expectError(await get("lost-1"), 504, "timeout");
    // Within the grace an outcome may still come: pending.
    const late = await get("late-1");
    expect(late.status).toBe(204);
  });

  it("ends a long-poll with 504 once the request is 5 s past its deadline, not when its wait runs out", async () => {
    // A lost request (a memory queue's restart): a client polling with a long wait hears 504
    // when the relay gives up on the outcome, as a synchronous POST does, not a minute later.
    const exchange = env.EXCHANGE.getByName("exchange");
    await runInDurableObject(exchange, (instance) => {
      type Requests = { record(identity: string, id: string, queue: string, at: number): number };
      const clients = instance as unknown as { http: { requests: Requests } };
      clients.http.requests.record("curl-iris", "lost-2", "hc-lost", Date.now() - 6_000);
      clients.http.requests.record("curl-iris", "late-2", "hc-lost", Date.now() - 4_900);
    });
    const poll = (id: string) =>
      http(`/v1/requests/${id}?wait=60000`, { identity: "curl-iris", method: "GET" });
    // Without the bound each poll waits its full minute, past the test's timeout.
    await expectError(await poll("lost-2"), 504, "timeout");
    await expectError(await poll("late-2"), 504, "timeout");
  });

  it("keeps an outcome readable until 5 minutes past its deadline, then answers 404 for the id", async () => {
    const q = "hc-resume-window";
    const server = await wsServer(q, "hc-worker-window");
    const post = (id: string) =>
      http(`/v1/queues/${q}/requests?async=true`, {
        identity: "curl-hana",
        body: id,
        headers: { "EdgeMQ-Request-Id": id },
      });
    const get = (id: string) =>
      http(`/v1/requests/${id}`, { identity: "curl-hana", method: "GET" });
    expect((await post("hana-done")).status).toBe(202);
    const dispatch = await server.next();
    server.send({ type: "reply", id: field(dispatch, "id"), body: encodeBody("kept") });
    const read = await http("/v1/requests/hana-done?wait=5000", {
      identity: "curl-hana",
      method: "GET",
    });
    expect(await read.text()).toBe("kept");
    expect((await post("hana-pending")).status).toBe(202);

    // Move the deadlines back, as the queue's acceptance sets them (http-requests.ts).
    const deadlineAgo = (ms: number) =>
      runInDurableObject(env.EXCHANGE.getByName("exchange"), (instance) => {
        type Requests = { accepted(identity: string, id: string, deadline: number): void };
        const clients = instance as unknown as { http: { requests: Requests } };
        for (const id of ["hana-done", "hana-pending"]) {
          clients.http.requests.accepted("curl-hana", id, Date.now() - ms);
        }
      });
    await deadlineAgo(FIVE_MINUTES - 60_000);
    const stillKept = await get("hana-done");
    expect([stillKept.status, await stillKept.text()]).toEqual([200, "kept"]);
    await expectError(await get("hana-pending"), 504, "timeout");

    await deadlineAgo(FIVE_MINUTES + 1);
    await expectError(await get("hana-done"), 404, "not_found");
    await expectError(await get("hana-pending"), 404, "not_found");
    server.close();
  });

  it("refuses an id already used for another queue with 409 conflict, running nothing there", async () => {
    const post = (queue: string) =>
      http(`/v1/queues/${queue}/requests?async=true`, {
        identity: "curl-erin",
        body: "x",
        headers: { "EdgeMQ-Request-Id": "erin-1" },
      });
    expect((await post("hc-reuse-a")).status).toBe(202);
    await expectError(await post("hc-reuse-b"), 409, "conflict");
    expect(await env.QUEUE.getByName("hc-reuse-b").stats()).toMatchObject({ queued: 0 });
    expect((await post("hc-reuse-a")).status).toBe(202);
  });

  it("refuses a request whose DELETE overtook its POST with 499 cancelled, and never runs it", async () => {
    const queue = "hc-overtaken";
    const server = await wsServer(queue, "hc-worker-overtaken");
    const identity = "curl-hal";
    // The DELETE goes straight to the queue, the POST through the exchange: here it came first.
    const cancel = await http(`/v1/queues/${queue}/requests/hal-1`, { identity, method: "DELETE" });
    expect(cancel.status).toBe(204);
    const post = await http(`/v1/queues/${queue}/requests?async=true`, {
      identity,
      body: "x",
      headers: { "EdgeMQ-Request-Id": "hal-1" },
    });
    await expectError(post, 499, "cancelled");
    // A retried POST of that id (the same request) is refused too.
    const again = await http(`/v1/queues/${queue}/requests?async=true`, {
      identity,
      body: "x",
      headers: { "EdgeMQ-Request-Id": "hal-1" },
    });
    await expectError(again, 499, "cancelled");
    expect(await env.QUEUE.getByName(queue).stats()).toMatchObject({ queued: 0, leased: 0 });
    // Only that id: the client's next request runs.
    const next = http(`/v1/queues/${queue}/requests`, { identity, body: "y" });
    const dispatch = await server.next();
    server.send({ type: "reply", id: field(dispatch, "id"), body: encodeBody("ok") });
    expect((await next).status).toBe(200);
    server.close();
  });

  it("purges HTTP requests on whole minutes, so many share one alarm of the exchange", async () => {
    const identity = "curl-ida";
    for (const timeout of [1_000, 2_000, 3_000]) {
      const response = await http(`/v1/queues/hc-purge/requests?async=true&timeout=${timeout}`, {
        identity,
        body: "x",
      });
      expect(response.status).toBe(202);
    }
    const alarm = await runInDurableObject(env.EXCHANGE.getByName("exchange"), (_i, state) =>
      state.storage.getAlarm(),
    );
    expect(alarm).not.toBeNull();
    expect((alarm ?? 1) % 60_000).toBe(0);
  });

  it("charges each DELETE a rate-limit token, as a WebSocket cancel: with none left it is 429", async () => {
    const cancel = (identity: string) =>
      http("/v1/queues/hc-cancels/requests/gone-1", { identity, method: "DELETE" });
    expect((await cancel("curl-fay")).status).toBe(204);
    // curl-fay's bucket in the queue object is empty, as after a burst of cancels.
    const limiter = await runInDurableObject(env.QUEUE.getByName("hc-cancels"), (instance) => {
      const inside = instance as unknown as { state: { rateLimiter: RateLimiter } };
      return inside.state.rateLimiter;
    });
    const take = limiter.take.bind(limiter);
    limiter.take = (key, count) =>
      key === "curl-fay" ? { ok: false, retryAfterMs: 10 } : take(key, count);
    const refused = await cancel("curl-fay");
    // A 429 says when to retry, as HTTP clients' retry helpers expect (10 ms: 1 s at least).
    expect(refused.headers.get("Retry-After")).toBe("1");
    await expectError(refused, 429, "rate_limited");
    expect((await cancel("curl-gil")).status).toBe(204);
    limiter.take = take;
  });

  it("refuses a POST with 429 rate_limited and a Retry-After of the bucket's wait, in seconds", async () => {
    const limiter = await runInDurableObject(env.EXCHANGE.getByName("exchange"), (instance) => {
      const inside = instance as unknown as { rateLimiter: RateLimiter };
      return inside.rateLimiter;
    });
    const take = limiter.take.bind(limiter);
    limiter.take = (key, count) =>
      key === "curl-hal" ? { ok: false, retryAfterMs: 2_500 } : take(key, count);
    const refused = await http("/v1/queues/hc-limited/requests?async=true", {
      identity: "curl-hal",
      body: "x",
      headers: { "EdgeMQ-Request-Id": "hal-1" },
    });
    limiter.take = take;
    expect(refused.headers.get("Retry-After")).toBe("3");
    expect(refused.headers.get("EdgeMQ-Request-Id")).toBe("hal-1");
    await expectError(refused, 429, "rate_limited");
  });

  it("answers 504 timeout when a connected server does not reply before the deadline", async () => {
    const server = await wsServer("hc-slow", "hc-worker-7");
    const pending = http("/v1/queues/hc-slow/requests?timeout=100", {
      identity: "curl-erin",
      body: "x",
    });
    expect(await server.next()).toMatchObject({ type: "dispatch" });
    await expectError(await pending, 504, "timeout");
    server.close();
  });

  it("does not send an HTTP request's outcome to a WebSocket client of the same identity", async () => {
    const server = await wsServer("hc-mixed", "hc-worker-8");
    const { socket } = await TestSocket.client("both-ways");
    const pending = http("/v1/queues/hc-mixed/requests", { identity: "both-ways", body: "x" });
    const dispatch = await server.next();
    server.send({ type: "reply", id: field(dispatch, "id"), body: encodeBody("for http") });
    expect(await (await pending).text()).toBe("for http");
    socket.send({ type: "barrier" });
    expect(await socket.next()).toMatchObject({ type: "error", code: "bad_request" });
    socket.close();
    server.close();
  });
});
