/**
 * A WebSocket for the SDK that dials a Worker in-process (workerd's own `new WebSocket(url)`
 * would dial the network): `dial` answers the upgrade, e.g. the Worker under test's
 * `exports.default.fetch`, or the front door with other bindings. Everything above the socket is
 * the SDK as published. Used by sdk-in-workerd.test.ts and test/security/token-renewal.test.ts.
 */
import type {
  CloseEventLike,
  ErrorEventLike,
  MessageEventLike,
  WebSocketConstructor,
  WebSocketLike,
} from "../../client/index.js";

/** Answers an upgrade request (an http:// URL and its headers). */
export type Dial = (url: string, headers: Record<string, string>) => Promise<Response>;

export function loopbackWebSocket(dial: Dial): WebSocketConstructor {
  return class extends LoopbackWebSocket {
    constructor(url: string, protocols?: string[]) {
      super(dial, url, protocols);
    }
  };
}

type Listener<E> = ((event: E) => void) | null;

class LoopbackWebSocket implements WebSocketLike {
  readyState = 0;
  onopen: Listener<unknown> = null;
  onmessage: Listener<MessageEventLike> = null;
  onclose: Listener<CloseEventLike> = null;
  onerror: Listener<ErrorEventLike> = null;
  #socket: WebSocket | undefined;

  constructor(dial: Dial, url: string, protocols?: string[]) {
    const headers: Record<string, string> = { Upgrade: "websocket" };
    if (protocols) headers["Sec-WebSocket-Protocol"] = protocols.join(", ");
    void dial(url.replace(/^ws/, "http"), headers).then((response) => {
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
