/**
 * Test-side helpers for the relay in signed mode inside workerd: the Hono app called with the
 * test bindings plus EDGEMQ_SECRET (no config change needed), token minting, and a WebSocket peer
 * that queues frames and lets a test await a frame of a type or the close. Used by
 * test/security/*.test.ts.
 */
import { env } from "cloudflare:workers";
import { decodeFrames, type Frame, signToken, type TokenClaims } from "../../protocol/index.js";
import { app } from "../../src/app.js";
import type { Env } from "../../src/env.js";

export const SECRET = "security-test-secret-0123456789abcdef";

/** Bindings of a deployment with a secret (the secret wins over dev mode). */
export const signedEnv: Env = { QUEUE: env.QUEUE, EXCHANGE: env.EXCHANGE, EDGEMQ_SECRET: SECRET };

export interface Grant {
  sub: string;
  role: TokenClaims["role"];
  queues: string[];
  /** Seconds from now (negative: in the past); default one hour. */
  ttl?: number;
}

export function mint(grant: Grant, secret: string = SECRET): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const { sub, role, queues } = grant;
  return signToken({ sub, role, queues, iat: now, exp: now + (grant.ttl ?? 3600) }, secret);
}

/** A request to the signed relay (`path` relative to the relay), through the real front door. */
export function call(
  path: string,
  headers: Record<string, string> = {},
  bindings: Env = signedEnv,
): Promise<Response> {
  return Promise.resolve(app.request(path, { headers }, bindings));
}

/** A WebSocket upgrade to the signed relay with a bearer token (plus any extra headers). */
export function upgrade(
  path: string,
  token: string,
  headers: Record<string, string> = {},
): Promise<Response> {
  return call(path, { Upgrade: "websocket", Authorization: `Bearer ${token}`, ...headers });
}

type FrameOf<T extends Frame["type"]> = Extract<Frame, { type: T }>;

export class Peer {
  readonly closed: Promise<{ code: number; reason: string }>;
  /** Every frame received, in order (also the ones taken). */
  readonly received: Frame[] = [];
  private readonly pending: Frame[] = [];
  private readonly waiters: (() => void)[] = [];

  constructor(readonly ws: WebSocket) {
    this.closed = new Promise((resolve) => {
      ws.addEventListener("close", (e) => {
        resolve({ code: e.code, reason: e.reason });
        for (const wake of this.waiters.splice(0)) wake();
      });
    });
    ws.addEventListener("message", (event) => {
      for (const result of decodeFrames(event.data)) {
        if (!result.ok) continue;
        this.received.push(result.value);
        this.pending.push(result.value);
      }
      for (const wake of this.waiters.splice(0)) wake();
    });
    ws.accept();
  }

  /** Upgrades through the front door; throws with the body on any non-101 answer. */
  static async open(response: Response | Promise<Response>): Promise<Peer> {
    const answer = await response;
    if (answer.status !== 101 || answer.webSocket === null) {
      throw new Error(`expected 101, got ${answer.status}: ${await answer.text()}`);
    }
    return new Peer(answer.webSocket);
  }

  /** A client with `token` on /v1/connect, welcome consumed. */
  static async client(token: string): Promise<Peer> {
    const peer = await Peer.open(upgrade("/v1/connect", token));
    await peer.next("welcome");
    return peer;
  }

  /** A server with `token` on `queue`, welcome consumed and `ready` sent. */
  static async server(queue: string, token: string, concurrency = 10): Promise<Peer> {
    const peer = await Peer.open(upgrade(`/v1/queues/${queue}/serve`, token));
    await peer.next("welcome");
    if (concurrency > 0) peer.send({ type: "ready", concurrency });
    return peer;
  }

  send(value: unknown): void {
    this.ws.send(JSON.stringify(value));
  }

  /** Waits for (and removes) the first pending frame of `type` (and `id`, when given). */
  async next<T extends Frame["type"]>(type: T, id?: string): Promise<FrameOf<T>> {
    for (;;) {
      const at = this.pending.findIndex(
        (f) => f.type === type && (id === undefined || idOf(f) === id),
      );
      const frame = this.pending[at];
      if (frame !== undefined && isType(frame, type)) {
        this.pending.splice(at, 1);
        return frame;
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  close(): void {
    try {
      this.ws.close(1000, "test done");
    } catch {
      // Already closed by the relay.
    }
  }
}

function idOf(frame: Frame): string | undefined {
  return "id" in frame ? frame.id : undefined;
}

function isType<T extends Frame["type"]>(frame: Frame, type: T): frame is FrameOf<T> {
  return frame.type === type;
}

/** A JSON request frame. */
export function request(id: string, queue: string, data: unknown = id): Record<string, unknown> {
  return { type: "request", id, queue, body: { enc: "json", data: JSON.stringify(data) } };
}

/** The JSON body of a reply or dispatch frame. */
export function jsonOf(frame: { body: { data: string } }): unknown {
  return JSON.parse(frame.body.data);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Reads a JSON error body and checks it carries no stack trace or internal detail. */
export async function errorBody(response: Response): Promise<{ code: string; message: string }> {
  const text = await response.text();
  if (/\n\s+at |\.ts:\d+|node_modules|workerd/.test(text)) {
    throw new Error(`error body leaks internals: ${text}`);
  }
  const parsed: unknown = JSON.parse(text);
  if (
    typeof parsed === "object" &&
    parsed !== null &&
    "error" in parsed &&
    typeof parsed.error === "object" &&
    parsed.error !== null &&
    "code" in parsed.error &&
    "message" in parsed.error &&
    typeof parsed.error.code === "string" &&
    typeof parsed.error.message === "string"
  ) {
    return { code: parsed.error.code, message: parsed.error.message };
  }
  throw new Error(`not an error body: ${text}`);
}
