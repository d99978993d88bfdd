/**
 * A test-side WebSocket peer for workerd tests: opens an upgrade through the front door, queues
 * every frame it receives (batches flattened) and lets a test await the next frame or the close;
 * and the two peers most queue tests open, a server and a client's queue link, both welcomed.
 * Used by test/workers/exchange-*.test.ts and queue-*.test.ts.
 */
import { exports } from "cloudflare:workers";
import { expect } from "vitest";

export interface Closed {
  code: number;
  reason: string;
}

export class TestSocket {
  readonly ws: WebSocket;
  readonly closed: Promise<Closed>;
  /** Every text message received, as sent (a batch is one message), for tests of batching. */
  readonly messages: string[] = [];
  private readonly frames: unknown[] = [];
  private readonly waiters: ((frame: unknown) => void)[] = [];

  private constructor(ws: WebSocket) {
    this.ws = ws;
    this.closed = new Promise((resolve) => {
      ws.addEventListener("close", (event) => resolve({ code: event.code, reason: event.reason }));
    });
    ws.addEventListener("message", (event) => {
      if (typeof event.data !== "string") return;
      this.messages.push(event.data);
      const parsed = parseOrRaw(event.data);
      for (const frame of Array.isArray(parsed) ? parsed : [parsed]) this.push(frame);
    });
    ws.accept();
  }

  /** Opens `path` on the front door as a WebSocket; fails the test on any non-101 answer. */
  static async open(path: string, headers: Record<string, string> = {}): Promise<TestSocket> {
    const response = await exports.default.fetch(`https://relay.test${path}`, {
      headers: { Upgrade: "websocket", ...headers },
    });
    const ws = response.webSocket;
    if (response.status !== 101 || ws === null) {
      throw new Error(`expected 101, got ${response.status}: ${await response.text()}`);
    }
    return new TestSocket(ws);
  }

  /** Connects a client of `identity` and consumes its welcome frame. */
  static async client(identity: string): Promise<{ socket: TestSocket; welcome: unknown }> {
    const socket = await TestSocket.open(`/v1/connect?identity=${encodeURIComponent(identity)}`);
    const welcome = await socket.next();
    return { socket, welcome };
  }

  send(value: unknown): void {
    this.ws.send(typeof value === "string" ? value : JSON.stringify(value));
  }

  /** The next frame received, in order. */
  next(): Promise<unknown> {
    const frame = this.frames.shift();
    if (frame !== undefined) return Promise.resolve(frame);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** The next `count` frames, in order. */
  async take(count: number): Promise<unknown[]> {
    const frames: unknown[] = [];
    for (let i = 0; i < count; i++) frames.push(await this.next());
    return frames;
  }

  /** Frames received but not yet taken. */
  get buffered(): number {
    return this.frames.length;
  }

  close(): void {
    try {
      this.ws.close(1000, "test done");
    } catch {
      // Already closed by the relay.
    }
  }

  private push(frame: unknown): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter(frame);
    else this.frames.push(frame);
  }
}

/** JSON messages become values; anything else (the keep-alive "pong") stays a string. */
function parseOrRaw(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** A server socket of `queue`, welcomed and ready for 4 requests. */
export async function serverSocket(queue: string, identity: string): Promise<TestSocket> {
  const socket = await TestSocket.open(`/v1/queues/${queue}/serve?identity=${identity}`);
  expect(await socket.next()).toMatchObject({ type: "welcome", role: "server", queue });
  socket.send({ type: "ready", concurrency: 4 });
  return socket;
}

/** A client's queue link to `queue`, welcomed. */
export async function linkSocket(queue: string, identity: string): Promise<TestSocket> {
  const socket = await TestSocket.open(`/v1/queues/${queue}/connect?identity=${identity}`);
  expect(await socket.next()).toMatchObject({ type: "welcome", role: "client", identity, queue });
  return socket;
}

/**
 * The types of the frames `socket` gets before the relay's answer to a bad frame sent now (an
 * `error`): what reached it up to this moment.
 */
export async function typesBeforeBarrier(socket: TestSocket): Promise<unknown[]> {
  socket.send({ type: "barrier" });
  const seen: unknown[] = [];
  for (let frame = await socket.next(); ; frame = await socket.next()) {
    const type =
      typeof frame === "object" && frame !== null && "type" in frame ? frame.type : undefined;
    if (type === "error") return seen;
    seen.push(type);
  }
}

/** A frame's `id`, if it has one. */
export function idOf(frame: unknown): unknown {
  return typeof frame === "object" && frame !== null && "id" in frame ? frame.id : undefined;
}

/** Proves a socket received nothing else: a refused frame's error must be the next frame. */
export async function expectNothingElse(socket: TestSocket): Promise<void> {
  socket.send({ type: "barrier" });
  expect(await socket.next()).toMatchObject({ type: "error", code: "bad_request" });
}
