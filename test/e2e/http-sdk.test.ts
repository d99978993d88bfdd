/**
 * E2E, the SDK's HTTP transport (connect(url, { transport: "http" })) against a real `wrangler
 * dev` with a short lease: an HTTP-transport client served by a WebSocket SDK server, and a
 * WebSocket client served by an HTTP-transport SDK server. JSON, strings and bytes arrive as
 * themselves; a throwing handler gives server_error with its message; a handler slower than the
 * lease is still answered once, at attempt 1, because the HTTP server extends its lease.
 * Peers named `http-*` use the HTTP transport (peers/peer.mjs).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { request, serve, serverStats } from "./support/commands.js";
import { useRelay } from "./support/fixture.js";
import type { PeerProcess } from "./support/peer.js";

const LEASE_MS = 2_000;

describe.each([
  { name: "HTTP client, WebSocket server", client: "http-sdk-client", server: "ws-sdk-server" },
  { name: "WebSocket client, HTTP server", client: "ws-sdk-client", server: "http-sdk-server" },
])("$name", ({ client: clientName, server: serverName }) => {
  const e2e = useRelay({
    vars: { EDGEMQ_LEASE_MS: String(LEASE_MS) },
    ports: { relay: { first: 18500, last: 18599 }, inspector: { first: 19500, last: 19599 } },
  });
  const echoQueue = `${serverName}-echo`;
  const scriptQueue = `${serverName}-script`;
  let client: PeerProcess;
  let server: PeerProcess;

  beforeAll(async () => {
    server = await e2e.peer(`${serverName}-process`);
    await serve(server, { identity: serverName, queue: echoQueue, mode: "echo", concurrency: 4 });
    await serve(server, {
      identity: serverName,
      queue: scriptQueue,
      mode: "script",
      concurrency: 4,
    });
    client = await e2e.peer(`${clientName}-process`);
  });

  const ask = (queue: string, body: unknown, timeout = 30_000) =>
    request(client, { identity: clientName, queue, body, options: { timeout } }, 60_000);

  it("carries JSON, strings and bytes as themselves", async () => {
    expect(await ask(echoQueue, { a: [1, "two", null] })).toEqual({
      ok: true,
      body: { a: [1, "two", null] },
    });
    expect(await ask(echoQueue, "plain text ✓")).toEqual({ ok: true, body: "plain text ✓" });
    const bytes = new Uint8Array([0, 1, 2, 254, 255]);
    expect(await ask(echoQueue, bytes)).toEqual({ ok: true, body: bytes });
  });

  it("carries the request's headers to the handler, names and values as sent", async () => {
    const headers = { "Trace-Id": "4bf92f3577b34da6", note: "café ✓" };
    const outcome = await request(
      client,
      { identity: clientName, queue: scriptQueue, body: { op: "headers" }, options: { headers } },
      60_000,
    );
    expect(outcome).toEqual({ ok: true, body: headers });
  });

  it("gives server_error with the message when the handler throws", async () => {
    const outcome = await ask(scriptQueue, { op: "throw", message: "no such image" });
    expect(outcome).toMatchObject({ ok: false, code: "server_error", message: "no such image" });
  });

  it("answers a handler slower than the lease once, at attempt 1", async () => {
    const before = await serverStats(server);
    const outcome = await ask(scriptQueue, { op: "sleep", ms: LEASE_MS * 3 });
    expect(outcome).toEqual({ ok: true, body: { slept: LEASE_MS * 3 } });
    const after = await serverStats(server);
    expect(after.handled - before.handled).toBe(1);
    expect((after.byAttempt["2"] ?? 0) - (before.byAttempt["2"] ?? 0)).toBe(0);
  });
});
