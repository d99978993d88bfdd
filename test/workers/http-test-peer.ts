/**
 * Test-side helpers for the HTTP API inside workerd: a curl-like `http()` call through the real
 * front door (`exports.default.fetch`, dev mode: identity in the EdgeMQ-Identity header), a
 * WebSocket server on a queue (raw protocol frames) and small readers for JSON error bodies.
 * Used by test/workers/http-*.test.ts.
 */
import { exports } from "cloudflare:workers";
import { expect } from "vitest";
import { TestSocket } from "./exchange-test-socket.js";

export interface HttpCall {
  method?: string;
  identity?: string;
  body?: BodyInit;
  contentType?: string;
  headers?: Record<string, string>;
  /** Aborting it hangs up, as a client that goes away. */
  signal?: AbortSignal;
}

/** One HTTP request to the relay, as curl would send it. */
export function http(path: string, call: HttpCall = {}): Promise<Response> {
  const headers: Record<string, string> = { ...call.headers };
  if (call.identity !== undefined) headers["EdgeMQ-Identity"] = call.identity;
  if (call.contentType !== undefined) headers["Content-Type"] = call.contentType;
  const init: RequestInit = { method: call.method ?? "POST", headers };
  if (call.body !== undefined) init.body = call.body;
  if (call.signal !== undefined) init.signal = call.signal;
  return exports.default.fetch(`https://relay.test${path}`, init);
}

/** A WebSocket server of `queue` that announced `concurrency`. */
export async function wsServer(queue: string, identity: string, concurrency = 4) {
  const socket = await TestSocket.open(`/v1/queues/${queue}/serve?identity=${identity}`);
  expect(await socket.next()).toMatchObject({ type: "welcome", role: "server", queue });
  socket.send({ type: "ready", concurrency });
  return socket;
}

/** Asserts `response` is the JSON error `code` with `status`. */
export async function expectError(response: Response, status: number, code: string) {
  const body: unknown = await response.json();
  expect({ status: response.status, body }).toEqual({
    status,
    body: { error: { code, message: expect.any(String) } },
  });
}

/** A field of a frame received as unknown. */
export function field(frame: unknown, name: string): unknown {
  if (typeof frame !== "object" || frame === null) return undefined;
  const value: unknown = Reflect.get(frame, name);
  return value;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
