/**
 * A request's and a reply's own headers over the HTTP API (`EdgeMQ-Headers`, one JSON object) in
 * workerd: an HTTP client's headers reach a WebSocket server's dispatch and an HTTP server's take;
 * an HTTP server's reply headers reach a WebSocket client's reply and an HTTP client's answer;
 * a malformed value or one over the relay's limits is refused 400 before anything is stored, and
 * a WebSocket request whose headers would be too long once escaped for HTTP is refused too.
 */
import { describe, expect, it } from "vitest";
import { encodeBody } from "../../protocol/index.js";
import { TestSocket } from "./exchange-test-socket.js";
import { expectError, field, http, wsServer } from "./http-test-peer.js";

const HEADERS = { "Trace-Id": "4bf92f", note: "café" };
const ENCODED = '{"Trace-Id":"4bf92f","note":"caf\\u00e9"}';

function post(queue: string, identity: string, query: string, headers: Record<string, string>) {
  return http(`/v1/queues/${queue}/requests${query}`, {
    identity,
    contentType: "text/plain",
    body: "job",
    headers,
  });
}

describe("request and reply headers over the HTTP API", () => {
  it("carries an HTTP client's headers to a WebSocket server's dispatch", async () => {
    const server = await wsServer("fh-ws", "fh-ws-worker");
    const accepted = await post("fh-ws", "fh-client-1", "?async=true", {
      "EdgeMQ-Headers": ENCODED,
    });
    expect(accepted.status).toBe(202);
    await accepted.arrayBuffer();
    expect(await server.next()).toMatchObject({ type: "dispatch", headers: HEADERS });
    server.close();
  });

  it("hands them to an HTTP server's take, and its reply's headers to the HTTP client's answer", async () => {
    const asked = post("fh-http", "fh-client-2", "?timeout=10000", { "EdgeMQ-Headers": ENCODED });
    const taken = await http("/v1/queues/fh-http/take?wait=5000", { identity: "fh-worker" });
    expect(taken.status).toBe(200);
    expect(JSON.parse(taken.headers.get("EdgeMQ-Headers") ?? "")).toEqual(HEADERS);
    await taken.arrayBuffer();
    const id = taken.headers.get("EdgeMQ-Request-Id") ?? "";
    const answered = await http(`/v1/queues/fh-http/replies/${id}`, {
      identity: "fh-worker",
      body: "done",
      headers: { "EdgeMQ-Headers": '{"Content-Language":"en"}' },
    });
    expect(answered.status).toBe(204);
    const answer = await asked;
    expect(answer.status).toBe(200);
    expect(answer.headers.get("EdgeMQ-Headers")).toBe('{"Content-Language":"en"}');
    expect(await answer.text()).toBe("done");
  });

  it("gives a WebSocket client an HTTP server's reply headers, and a take without any none", async () => {
    const { socket: client } = await TestSocket.client("fh-ws-client");
    client.send({ type: "request", id: "h1", queue: "fh-mixed", body: encodeBody("x") });
    expect(await client.next()).toMatchObject({ type: "accepted", id: "h1" });
    const taken = await http("/v1/queues/fh-mixed/take?wait=5000", { identity: "fh-worker-2" });
    expect(taken.headers.get("EdgeMQ-Headers")).toBeNull();
    await taken.arrayBuffer();
    const id = taken.headers.get("EdgeMQ-Request-Id") ?? "";
    const answered = await http(`/v1/queues/fh-mixed/replies/${id}`, {
      identity: "fh-worker-2",
      body: "y",
      headers: { "EdgeMQ-Headers": ENCODED },
    });
    expect(answered.status).toBe(204);
    expect(await client.next()).toMatchObject({ type: "reply", id: "h1", headers: HEADERS });
    client.close();
  });

  it("refuses a malformed EdgeMQ-Headers, or one over the limits, with 400 and stores nothing", async () => {
    for (const value of ["trace-id: 1", '{"n":1}', '{"bad name":"x"}', '["x"]']) {
      const refused = await post("fh-bad", "fh-client-3", "?async=true", {
        "EdgeMQ-Headers": value,
      });
      await expectError(refused, 400, "bad_request");
    }
    const big = JSON.stringify({ big: "x".repeat(9_000) });
    await expectError(
      await post("fh-bad", "fh-client-3", "?async=true", { "EdgeMQ-Headers": big }),
      400,
      "bad_request",
    );
    const stats = await http("/v1/queues/fh-bad/stats", { method: "GET", identity: "fh-x" });
    expect(field(await stats.json(), "queued")).toBe(0);
  });

  it("refuses a WebSocket request whose headers an HTTP server could not read once escaped", async () => {
    const { socket: client } = await TestSocket.client("fh-escaped");
    const headers = { v: '"'.repeat(8_000) };
    client.send({ type: "request", id: "e1", queue: "fh-esc", body: encodeBody("x"), headers });
    expect(await client.next()).toMatchObject({
      type: "error",
      id: "e1",
      code: "bad_request",
      message: expect.stringContaining("once escaped for HTTP"),
    });
    client.close();
  });

  it("refuses a reply whose EdgeMQ-Headers is malformed, and the request stays in hand", async () => {
    const id = await (async () => {
      const accepted = await post("fh-bad-reply", "fh-client-4", "?async=true", {});
      await accepted.arrayBuffer();
      const taken = await http("/v1/queues/fh-bad-reply/take?wait=5000", { identity: "fh-w3" });
      await taken.arrayBuffer();
      return taken.headers.get("EdgeMQ-Request-Id") ?? "";
    })();
    const refused = await http(`/v1/queues/fh-bad-reply/replies/${id}`, {
      identity: "fh-w3",
      body: "y",
      headers: { "EdgeMQ-Headers": "{" },
    });
    await expectError(refused, 400, "bad_request");
    const answered = await http(`/v1/queues/fh-bad-reply/replies/${id}`, {
      identity: "fh-w3",
      body: "y",
    });
    expect(answered.status).toBe(204);
  });
});
