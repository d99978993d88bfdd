/**
 * A test-side server peer for QueueDO workerd tests: opens a server WebSocket straight on the
 * queue's object (as the front door forwards it), decodes every frame it receives (batches
 * flattened) and lets a test await the next frame of a type, or the close. Also reads what the
 * real ExchangeDO received for a client. Used by test/workers/queue-*.test.ts.
 */

import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { decodeFrames, type Frame, type RequestFrame } from "../../protocol/index.js";

type FrameOf<T extends Frame["type"]> = Extract<Frame, { type: T }>;

export class TestServer {
  readonly closed: Promise<{ code: number; reason: string }>;
  private readonly frames: Frame[] = [];
  private readonly waiters: (() => void)[] = [];

  private constructor(readonly ws: WebSocket) {
    this.closed = new Promise((resolve) => {
      ws.addEventListener("close", (e) => resolve({ code: e.code, reason: e.reason }));
    });
    ws.addEventListener("message", (event) => {
      for (const result of decodeFrames(event.data)) {
        if (result.ok) this.frames.push(result.value);
      }
      for (const wake of this.waiters.splice(0)) wake();
    });
    ws.accept();
  }

  /**
   * Connects server `identity` to `queue`, checks the welcome and announces `concurrency`. With
   * `expiresAt`, the front door's principal header carries that token expiry (ms); otherwise
   * the object gives the dev principal, which never expires.
   */
  static async connect(
    queue: string,
    identity: string,
    concurrency = 10,
    expiresAt?: number,
  ): Promise<TestServer> {
    const headers: Record<string, string> = {
      Upgrade: "websocket",
      "X-EdgeMQ-Identity": identity,
      "X-EdgeMQ-Queue": queue,
    };
    if (expiresAt !== undefined) {
      const principal = { identity, roles: ["server"], queues: [queue], expiresAt };
      headers["X-EdgeMQ-Principal"] = JSON.stringify(principal);
    }
    const response = await env.QUEUE.getByName(queue).fetch(new Request("https://x/", { headers }));
    const ws = response.webSocket;
    if (response.status !== 101 || ws === null) throw new Error(`upgrade got ${response.status}`);
    const server = new TestServer(ws);
    await server.next("welcome");
    if (concurrency > 0) server.send({ type: "ready", concurrency });
    return server;
  }

  send(value: unknown): void {
    this.ws.send(typeof value === "string" ? value : JSON.stringify(value));
  }

  /** Waits for (and removes) the first received frame of `type`. */
  async next<T extends Frame["type"]>(type: T): Promise<FrameOf<T>> {
    for (;;) {
      const at = this.frames.findIndex((f) => f.type === type);
      const frame = this.frames[at];
      if (at >= 0 && frame !== undefined && isType(frame, type)) {
        this.frames.splice(at, 1);
        return frame;
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Frames of `type` received and not yet taken. */
  pending(type: Frame["type"]): Frame[] {
    return this.frames.filter((f) => f.type === type);
  }

  close(): void {
    try {
      this.ws.close(1000, "test done");
    } catch {
      // already closed
    }
  }
}

function isType<T extends Frame["type"]>(frame: Frame, type: T): frame is FrameOf<T> {
  return frame.type === type;
}

/** A request frame with a JSON body. */
export function request(
  id: string,
  queue: string,
  extra: Partial<RequestFrame> = {},
): RequestFrame {
  return {
    type: "request",
    id,
    queue,
    body: { enc: "json", data: JSON.stringify({ id }) },
    ...extra,
  };
}

/** The outcome frames the exchange holds for `identity` (its outbox), parsed. */
export async function delivered(identity: string): Promise<Frame[]> {
  const rows = await runInDurableObject(env.EXCHANGE.getByName("exchange"), (_instance, state) =>
    state.storage.sql
      .exec("SELECT frame FROM outbox WHERE identity = ? ORDER BY created, rowid", identity)
      .toArray(),
  );
  const frames: Frame[] = [];
  for (const row of rows) {
    for (const result of decodeFrames(row.frame)) if (result.ok) frames.push(result.value);
  }
  return frames;
}

/** Waits until the exchange holds an outcome for (identity, client id) and returns it. */
export async function outcomeFor(identity: string, id: string): Promise<Frame> {
  for (let i = 0; i < 200; i++) {
    const frame = (await delivered(identity)).find((f) => "id" in f && f.id === id);
    if (frame) return frame;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`no outcome for ${identity}/${id} reached the exchange`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
