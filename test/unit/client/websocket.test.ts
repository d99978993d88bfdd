/**
 * How the SDK finds a WebSocket in Node 20: the `ws` package, made not to offer permessage-deflate
 * (client/websocket.ts), checked against a real `ws` server that would accept it.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocketServer } from "ws";
import { resolveWebSocket, type WebSocketLike } from "../../../client/websocket.js";

let server: WebSocketServer | undefined;

afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** A `ws` server offering permessage-deflate; resolves with the extensions header of the upgrade. */
async function listen(): Promise<{ url: string; offered: Promise<string | undefined> }> {
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: true });
  server = wss;
  await new Promise<void>((resolve) => wss.once("listening", () => resolve()));
  const offered = new Promise<string | undefined>((resolve) =>
    wss.once("connection", (_socket, request) =>
      resolve(request.headers["sec-websocket-extensions"]),
    ),
  );
  const { port } = wss.address() as AddressInfo;
  return { url: `ws://127.0.0.1:${port}`, offered };
}

function opened(socket: WebSocketLike): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.onopen = () => resolve();
    socket.onerror = (event) => reject(new Error(String(event.message)));
  });
}

describe("resolveWebSocket in Node", () => {
  it("loads `ws` when the platform has no WebSocket, and its sockets do not offer permessage-deflate", async () => {
    expect(Reflect.get(globalThis, "WebSocket")).toBeUndefined();
    const { url, offered } = await listen();
    const WebSocket = await resolveWebSocket(undefined);
    const socket = new WebSocket(url);
    await opened(socket);
    expect(await offered).toBeUndefined();
    expect(Reflect.get(socket, "extensions")).toBe("");
    socket.close();
  });

  it("uses a WebSocket given in options as it is", async () => {
    const { WebSocket: Given } = await import("ws");
    const { url, offered } = await listen();
    const WebSocket = await resolveWebSocket(Given);
    expect(WebSocket).toBe(Given);
    const socket = new WebSocket(url);
    await opened(socket);
    expect(await offered).toContain("permessage-deflate");
    socket.close();
  });

  it("ends a refused upgrade with an error naming the relay's reason from its answer's body", async () => {
    const http = createServer((_request, response) => {
      response.writeHead(403, { "content-type": "application/json" });
      const error = { code: "forbidden", message: "this token does not allow the server role" };
      response.end(JSON.stringify({ error }));
    });
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", () => resolve()));
    try {
      const { port } = http.address() as AddressInfo;
      const WebSocket = await resolveWebSocket(undefined);
      const socket = new WebSocket(`ws://127.0.0.1:${port}/v1/queues/q/serve`);
      const ended = await new Promise<{ message: unknown; code: number }>((resolve) => {
        let message: unknown;
        socket.onerror = (event) => {
          message = event.message;
        };
        socket.onclose = (event) => resolve({ message, code: event.code });
      });
      expect(ended).toEqual({
        message: "Unexpected server response: 403: this token does not allow the server role",
        code: 1006,
      });
    } finally {
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
  });
});
