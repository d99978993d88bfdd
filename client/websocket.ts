/**
 * The minimal WebSocket shape the SDK uses, and how it finds a constructor: the one given in
 * options, else globalThis.WebSocket (browsers, Workers, Deno, Bun, Node 22+), else the `ws`
 * package loaded on demand (Node 20), without permessage-deflate. Used by connection.ts and
 * heartbeat.ts; tests inject a fake relay here.
 */
import { EdgeMQError, ERROR_CODE, isRecord } from "../protocol/index.js";
import { startTimer, stopTimer } from "./platform.js";

/**
 * A WebSocketLike's event handler (`onmessage`, ...), compared bivariantly so that platform
 * sockets with richer events fit.
 */
export type SocketEventHandler<E> = { bivarianceHack(event: E): void }["bivarianceHack"];

/** The part of a WebSocket's message event the SDK reads. */
export interface MessageEventLike {
  readonly data: unknown;
}

/** The part of a WebSocket's close event the SDK reads. */
export interface CloseEventLike {
  readonly code: number;
  readonly reason: string;
}

/**
 * `type` is there so that the DOM's `Event` (no `message`) fits: a type of optional properties
 * only takes a value that shares one of them.
 */
export interface ErrorEventLike {
  readonly type?: string;
  readonly message?: unknown;
}

/** The part of a WebSocket the SDK uses; the platform's WebSocket and `ws` fit it. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: SocketEventHandler<unknown> | null;
  onmessage: SocketEventHandler<MessageEventLike> | null;
  onclose: SocketEventHandler<CloseEventLike> | null;
  onerror: SocketEventHandler<ErrorEventLike> | null;
}

/** A WebSocket class (connect option `WebSocket`), e.g. `globalThis.WebSocket` or `ws`'s. */
export type WebSocketConstructor = new (url: string, protocols?: string[]) => WebSocketLike;

/** WebSocket.CONNECTING and WebSocket.OPEN, the same numbers on every platform. */
export const CONNECTING = 0;
export const OPEN = 1;

/**
 * Ends a socket at once, without waiting for the close handshake: Node's `ws` has `terminate()`,
 * which frees the connection (else a relay that never answers the handshake keeps it, and the
 * process, alive for ws's 30 s close timeout). Elsewhere (browsers, Workers) `close()`, whose
 * handshake never holds a process.
 */
export function terminateSocket(socket: WebSocketLike, code: number, reason: string): void {
  const terminate = (socket as { terminate?: unknown }).terminate;
  try {
    if (typeof terminate === "function") terminate.call(socket);
    else socket.close(code, reason);
  } catch {
    // The socket is already unusable; dropping it is all that is left to do.
  }
}

/** A send on a socket that is going away throws on some platforms; its close event follows. */
export function trySend(socket: WebSocketLike, data: string): void {
  try {
    socket.send(data);
  } catch {
    // Ignored on purpose: the close event that follows triggers the reconnect and re-send.
  }
}

export async function resolveWebSocket(
  given: WebSocketConstructor | undefined,
): Promise<WebSocketConstructor> {
  if (given) return given;
  const global = globalWebSocket();
  if (global) return global;
  try {
    const ws = await import("ws");
    return uncompressed(ws.WebSocket);
  } catch (cause) {
    throw new EdgeMQError(
      ERROR_CODE.badRequest,
      "no WebSocket: pass options.WebSocket, or install the `ws` package in Node",
      { cause },
    );
  }
}

/**
 * How long `ws` waits, once close frames have crossed, for the relay to end the TCP connection
 * before ending it itself (ws's default: 30 s); the close event, with the relay's code, comes then.
 * workerd does not end the connection of a hibernatable socket that its object closed from another
 * socket's event (a newer connection of the identity replacing it) until the object is evicted (an
 * idle one after 10 s, a busy one never), so a replaced Node peer learned it 10-30 s late.
 */
const WS_CLOSE_TIMEOUT_MS = 1_000;

/**
 * `ws` offers permessage-deflate by default, and compresses on libuv's thread pool: for the small
 * frames a relay carries, that costs more CPU and latency than it saves in bytes (measured: a
 * serial round trip 0.98 → 0.68 ms, the peers' CPU per request down by a third; bench/README.md).
 * Browsers cannot turn it off; Node peers do not offer it.
 */
function uncompressed(Base: typeof import("ws").WebSocket): WebSocketConstructor {
  // Not a literal: @types/ws does not declare `closeTimeout` (ws 8 reads it).
  const options = { perMessageDeflate: false, closeTimeout: WS_CLOSE_TIMEOUT_MS };
  return class extends Base {
    /** The error a refused upgrade ends with, naming the relay's reason (readRefusal). */
    #refusal: Error | undefined;

    constructor(url: string, protocols?: string[]) {
      super(url, protocols, options);
      this.on("unexpected-response", (_request, response) => {
        readRefusal(response, (refusal) => {
          this.#refusal = refusal;
          this.terminate();
        });
      });
    }

    override emit(event: string | symbol, ...args: unknown[]): boolean {
      if (event === "error" && this.#refusal !== undefined) args[0] = this.#refusal;
      return super.emit(event, ...args);
    }
  };
}

/** Most characters of a refused upgrade's body read for its reason, and how long it is waited for. */
const REFUSAL_BODY_CHARS = 4_096;
const REFUSAL_BODY_WAIT_MS = 2_000;

/**
 * Reads a refused upgrade's answer (`ws` would drop it, keeping only the status) and gives the
 * error the socket then ends with: "Unexpected server response: <status>: <the relay's message>"
 * (its JSON error's message, or the start of the body), which close-reasons.ts reads.
 */
function readRefusal(response: import("node:http").IncomingMessage, done: (e: Error) => void) {
  let body = "";
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    stopTimer(timer);
    const status = response.statusCode ?? 0;
    done(new Error(`Unexpected server response: ${status}: ${relayMessage(body)}`));
  };
  // A body that never ends must not hold the refusal back.
  const timer = startTimer(end, REFUSAL_BODY_WAIT_MS);
  response.setEncoding("utf8");
  response.on("data", (chunk: string) => {
    if (body.length < REFUSAL_BODY_CHARS) body += chunk;
  });
  response.on("end", end);
  response.on("error", end);
}

/** The message of the relay's JSON error body, else the body's start (one line). */
function relayMessage(body: string): string {
  try {
    const parsed: unknown = JSON.parse(body);
    const error = isRecord(parsed) ? parsed.error : undefined;
    if (isRecord(error) && typeof error.message === "string") return error.message;
  } catch {
    // Not JSON: the body's start says what it can.
  }
  return body.replace(/\s+/g, " ").trim().slice(0, 200);
}

function globalWebSocket(): WebSocketConstructor | undefined {
  const candidate: unknown = Reflect.get(globalThis, "WebSocket");
  return isConstructor(candidate) ? candidate : undefined;
}

/**
 * The one audited narrowing of an untyped global: a function named WebSocket on globalThis is the
 * platform's WebSocket constructor, which satisfies WebSocketLike on every supported runtime.
 */
function isConstructor(value: unknown): value is WebSocketConstructor {
  return typeof value === "function";
}
