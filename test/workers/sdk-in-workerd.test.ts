/**
 * The SDK running inside workerd (the Workers runtime): a client and a server peer made with
 * `connect()` in the same isolate as the relay. workerd's outbound `new WebSocket(url)` would dial
 * the network, so the peers get a WebSocket that dials the Worker under test through
 * `exports.default.fetch` instead; everything above the socket is the SDK as published.
 */
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import {
  type CloseEventLike,
  connect,
  type ErrorEventLike,
  type MessageEventLike,
  type WebSocketLike,
} from "../../client/index.js";

type Listener<E> = ((event: E) => void) | null;

/** A WebSocket for the SDK that connects to this Worker in-process. */
class LoopbackWebSocket implements WebSocketLike {
  readyState = 0;
  onopen: Listener<unknown> = null;
  onmessage: Listener<MessageEventLike> = null;
  onclose: Listener<CloseEventLike> = null;
  onerror: Listener<ErrorEventLike> = null;
  #socket: WebSocket | undefined;

  constructor(url: string, protocols?: string[]) {
    const headers: Record<string, string> = { Upgrade: "websocket" };
    if (protocols) headers["Sec-WebSocket-Protocol"] = protocols.join(", ");
    void exports.default.fetch(url.replace(/^ws/, "http"), { headers }).then((response) => {
      const socket = response.webSocket;
      if (!socket) {
        this.readyState = 3;
        this.onclose?.({ code: 1006, reason: `HTTP ${response.status}` });
        return;
      }
      socket.accept();
      this.#socket = socket;
      this.readyState = 1;
      socket.addEventListener("message", (event) => this.onmessage?.({ data: event.data }));
      socket.addEventListener("close", (event) => {
        this.readyState = 3;
        this.onclose?.({ code: event.code, reason: event.reason });
      });
      socket.addEventListener("error", () => this.onerror?.({ message: "socket error" }));
      this.onopen?.(undefined);
    });
  }

  send(data: string): void {
    this.#socket?.send(data);
  }

  close(code?: number, reason?: string): void {
    this.readyState = 2;
    this.#socket?.close(code, reason);
  }
}

describe("the SDK inside workerd", () => {
  it("serves and answers requests between two peers running in the Workers runtime", async () => {
    const options = { WebSocket: LoopbackWebSocket };
    const server = await connect("ws://relay.test", { ...options, identity: "workerd-server" });
    const service = server.serve("in-workerd", (req) => ({
      from: req.from,
      body: req.body instanceof Uint8Array ? "bytes" : (req.body ?? null),
    }));
    await service.ready;
    const client = await connect("ws://relay.test", { ...options, identity: "workerd-client" });

    expect(await client.request("in-workerd", { n: 1 })).toEqual({
      from: "workerd-client",
      body: { n: 1 },
    });
    expect(await client.request("in-workerd", "text")).toEqual({
      from: "workerd-client",
      body: "text",
    });

    await client.close();
    await service.close();
    await server.close();
  });
});
