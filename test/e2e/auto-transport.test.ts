/**
 * E2E, `connect(url, { transport: "auto" })` behind a proxy that forwards plain HTTP and refuses
 * WebSocket upgrades with 403, as some corporate proxies do, against a real `wrangler dev`: an
 * `auto` client and an `auto` server both end up on HTTP and talk to WebSocket peers connected
 * to the relay directly; an `auto` peer connected directly gets a WebSocket. Peers named `auto-*`
 * use `transport: "auto"` (peers/peer.mjs).
 */
import { createServer, request as forward, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request, serve, transports } from "./support/commands.js";
import { useRelay } from "./support/fixture.js";

/** A proxy to `target` (http://host:port) that passes HTTP calls and refuses every upgrade. */
function noWebSocketProxy(target: string): Server {
  const upstream = new URL(target);
  const server = createServer((inbound, outbound) => {
    const call = forward(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: inbound.method,
        path: inbound.url,
        headers: { ...inbound.headers, host: upstream.host },
      },
      (answer) => {
        outbound.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(outbound);
      },
    );
    call.on("error", () => outbound.destroy());
    // The caller hung up before its answer (an aborted long-poll): hang up upstream too.
    outbound.on("close", () => {
      if (!outbound.writableFinished) call.destroy();
    });
    inbound.pipe(call);
  });
  server.on("upgrade", (_inbound, socket) => {
    socket.end("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  });
  return server;
}

describe('transport: "auto" behind a proxy that blocks WebSockets', () => {
  const e2e = useRelay();
  let proxy: Server;
  let proxyUrl: string;

  beforeAll(async () => {
    proxy = noWebSocketProxy(e2e.relay().url.replace(/^ws/, "http"));
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    proxyUrl = `ws://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    proxy.closeAllConnections();
    await new Promise((resolve) => proxy.close(resolve));
  });

  it("connects a client over HTTP through the proxy, served by a WebSocket server", async () => {
    const server = await e2e.peer("ws-server");
    await serve(server, { identity: "direct-server", queue: "auto-q", mode: "echo" });
    const client = await e2e.peer("auto-client", proxyUrl);
    expect(await transports(client, ["auto-client"])).toEqual({ "auto-client": "http" });
    const outcome = await request(
      client,
      {
        identity: "auto-client",
        queue: "auto-q",
        body: { hello: "through a proxy" },
        options: { timeout: 20_000 },
      },
      30_000,
    );
    expect(outcome).toEqual({ ok: true, body: { hello: "through a proxy" } });
  });

  it("serves a queue over HTTP through the proxy for a WebSocket client", async () => {
    const server = await e2e.peer("auto-server", proxyUrl);
    await serve(server, { identity: "auto-server", queue: "auto-served", mode: "echo" });
    expect(await transports(server, ["auto-server"])).toEqual({ "auto-server": "http" });
    const client = await e2e.peer("ws-client");
    const outcome = await request(
      client,
      {
        identity: "direct-client",
        queue: "auto-served",
        body: "to an HTTP server",
        options: { timeout: 20_000 },
      },
      30_000,
    );
    expect(outcome).toEqual({ ok: true, body: "to an HTTP server" });
  });

  it("uses a WebSocket when nothing blocks it", async () => {
    const peer = await e2e.peer("auto-direct");
    expect(await transports(peer, ["auto-direct"])).toEqual({ "auto-direct": "websocket" });
  });
});
