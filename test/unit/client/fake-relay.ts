/**
 * An in-process fake of the relay side of EdgeMQ's WebSockets for SDK unit tests: its `WebSocket`
 * constructor is injected through connect()'s options, each socket records what the SDK sent,
 * and the test plays the relay (welcome, frames, drops, refusals) by hand. Events are delivered
 * asynchronously (microtasks), like a real socket; `settle()` lets them run.
 */

import { vi } from "vitest";
import type { Status } from "../../../client/index.js";
import type {
  CloseEventLike,
  ErrorEventLike,
  MessageEventLike,
  WebSocketConstructor,
  WebSocketLike,
} from "../../../client/websocket.js";
import {
  DEFAULT_LIMITS,
  decodeFrames,
  EdgeMQError,
  encodeFrames,
  type Frame,
  type Limits,
  PONG_MESSAGE,
  TOKEN_SUBPROTOCOL_PREFIX,
  tokenSubject,
} from "../../../protocol/index.js";

/**
 * How the fake relay answers a new socket. `http`: a refused upgrade as the `ws` package reports
 * it (the status in the error's message); `hidden`: any failed upgrade as browsers, Deno, Bun and
 * Node 22's global WebSocket report it (an error event without a message, then close 1006);
 * `pending`: a handshake still under way (the socket stays CONNECTING until its `open()`).
 */
export type Answer =
  | { kind: "welcome" }
  | { kind: "silent" }
  | { kind: "close"; code: number; reason?: string }
  | { kind: "http"; status: number }
  | { kind: "hidden" }
  | { kind: "pending" };

export class FakeRelay {
  readonly sockets: FakeSocket[] = [];
  /** How the next sockets are answered; shift()ed per socket, then `fallback`. */
  readonly answers: Answer[] = [];
  /** How the next sockets at a path are answered, ahead of `answers`; see answersAt(). */
  readonly #answersByPath = new Map<string, Answer[]>();
  fallback: Answer = { kind: "welcome" };
  limits: Limits = { ...DEFAULT_LIMITS };
  /** Answer "ping" with "pong", as the relay's auto-response does. */
  autoPong = true;
  /** Never complete a close handshake (a relay gone quiet): only terminate() ends a socket. */
  holdCloses = false;
  readonly WebSocket: WebSocketConstructor;

  constructor() {
    const relay = this;
    this.WebSocket = class extends FakeSocket {
      constructor(url: string, protocols?: string[]) {
        super(relay, url, protocols);
      }
    };
  }

  /** The sockets whose URL path is `path` (e.g. "/v1/connect"), oldest first. */
  socketsAt(path: string): FakeSocket[] {
    return this.sockets.filter((socket) => socket.path === path);
  }

  /** The answers for the next sockets at `path` (push to them), used before `answers`. */
  answersAt(path: string): Answer[] {
    const found = this.#answersByPath.get(path);
    if (found) return found;
    const created: Answer[] = [];
    this.#answersByPath.set(path, created);
    return created;
  }

  /** @internal How a new socket at `path` is answered. */
  nextAnswer(path: string): Answer {
    return this.#answersByPath.get(path)?.shift() ?? this.answers.shift() ?? this.fallback;
  }

  latest(path: string): FakeSocket {
    const found = this.socketsAt(path).at(-1);
    if (!found) throw new Error(`no socket at ${path}`);
    return found;
  }
}

export class FakeSocket implements WebSocketLike {
  readyState = 0;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: MessageEventLike) => void) | null = null;
  onclose: ((event: CloseEventLike) => void) | null = null;
  onerror: ((event: ErrorEventLike) => void) | null = null;
  /** Every message the SDK sent, in order (pings included). */
  readonly sent: string[] = [];
  readonly url: string;
  readonly path: string;
  readonly query: Record<string, string>;
  /** The subprotocols the SDK offered (the token goes as one in signed mode). */
  readonly protocols: readonly string[];
  closedBy: { code: number; reason: string } | undefined;
  /** close() was called before the handshake completed (a browser logs a warning for it). */
  closedWhileConnecting = false;
  /** terminate() was called (no close handshake). */
  terminated = false;
  readonly #relay: FakeRelay;
  /** Frames decoded from `sent` so far (frames()), and how many messages they came from. */
  readonly #decoded: Frame[] = [];
  #decodedMessages = 0;

  constructor(relay: FakeRelay, url: string, protocols: readonly string[] = []) {
    this.#relay = relay;
    this.url = url;
    this.protocols = protocols;
    const [withoutQuery = "", search = ""] = url.split("?");
    this.path = withoutQuery.replace(/^wss?:\/\/[^/]+/, "");
    this.query = Object.fromEntries(new URLSearchParams(search));
    relay.sockets.push(this);
    const answer = relay.nextAnswer(this.path);
    void Promise.resolve().then(() => this.#answer(answer));
  }

  send(data: string): void {
    if (this.readyState !== 1) throw new Error("InvalidStateError: socket not open");
    this.sent.push(data);
    if (data === "ping" && this.#relay.autoPong) this.#emitMessage(PONG_MESSAGE);
  }

  close(code = 1000, reason = ""): void {
    if (this.readyState >= 2) return;
    if (this.readyState === 0) this.closedWhileConnecting = true;
    this.closedBy = { code, reason };
    this.readyState = 2;
    if (this.#relay.holdCloses) return;
    void Promise.resolve().then(() => this.#finish(code, reason));
  }

  /** Node's `ws` terminate(): the connection ends at once, with no handshake (close 1006). */
  terminate(): void {
    this.terminated = true;
    this.closedBy ??= { code: 1006, reason: "" };
    this.readyState = 2;
    void Promise.resolve().then(() => this.#finish(1006, ""));
  }

  /** Every frame the SDK sent, decoded (pings left out); each message is decoded once. */
  frames(): Frame[] {
    for (const message of this.sent.slice(this.#decodedMessages)) {
      if (message === "ping") continue;
      for (const result of decodeFrames(message)) if (result.ok) this.#decoded.push(result.value);
    }
    this.#decodedMessages = this.sent.length;
    return [...this.#decoded];
  }

  framesOf<T extends Frame["type"]>(type: T): Extract<Frame, { type: T }>[] {
    return this.frames().filter((frame): frame is Extract<Frame, { type: T }> => {
      return frame.type === type;
    });
  }

  /** The relay sends frames (several in one call go out as one batch message). */
  deliver(...frames: Frame[]): void {
    this.#emitMessage(encodeFrames(frames));
  }

  /** The relay sends a raw text message. */
  deliverRaw(text: string): void {
    this.#emitMessage(text);
  }

  /** The relay (or the network) drops the socket. */
  drop(code = 1006, reason = ""): void {
    if (this.readyState >= 3) return;
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }

  /** The handshake of a `pending` socket completes now, with a welcome. */
  open(): void {
    if (this.readyState !== 0) return;
    this.readyState = 1;
    this.onopen?.({});
    this.welcome();
  }

  welcome(): void {
    const queueSocket = /^\/v1\/queues\/([^/]+)\/(serve|connect)$/.exec(this.path);
    const token = this.protocols.find((p) => p.startsWith(TOKEN_SUBPROTOCOL_PREFIX));
    const fromToken = token && tokenSubject(token.slice(TOKEN_SUBPROTOCOL_PREFIX.length));
    const identity = this.query.identity ?? (fromToken || "anonymous");
    const limits = this.#relay.limits;
    if (queueSocket?.[1]) {
      const queue = decodeURIComponent(queueSocket[1]);
      const role = queueSocket[2] === "serve" ? "server" : "client";
      this.deliver({ type: "welcome", v: 1, identity, role, queue, limits });
    } else {
      this.deliver({ type: "welcome", v: 1, identity, role: "client", limits });
    }
  }

  #answer(answer: Answer): void {
    if (this.readyState !== 0) return;
    switch (answer.kind) {
      case "http":
        this.onerror?.({ message: `Unexpected server response: ${answer.status}` });
        this.drop(1006, "");
        return;
      case "hidden":
        this.onerror?.({});
        this.drop(1006, "");
        return;
      case "close":
        this.readyState = 1;
        this.onopen?.({});
        this.drop(answer.code, answer.reason ?? "");
        return;
      case "silent":
        this.readyState = 1;
        this.onopen?.({});
        return;
      case "pending":
        return;
      case "welcome":
        this.readyState = 1;
        this.onopen?.({});
        this.welcome();
        return;
    }
  }

  #emitMessage(data: string): void {
    if (this.readyState !== 1) return;
    void Promise.resolve().then(() => {
      if (this.readyState === 1) this.onmessage?.({ data });
    });
  }

  #finish(code: number, reason: string): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}

/** Lets queued microtasks (socket events, coalesced sends) run. */
export async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}

/** The EdgeMQError `promise` rejects with; fails the test if it resolves or rejects otherwise. */
export async function failure(promise: Promise<unknown>): Promise<EdgeMQError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof EdgeMQError) return error;
    throw error;
  }
  throw new Error("expected a rejection");
}

/**
 * Closes a test's peers under fake timers, then returns to real time. close() drains: a test's
 * unanswered requests settle at their local backstop, so fake time is advanced past it.
 */
export async function closePeers(peers: readonly { close(): Promise<void> }[]): Promise<void> {
  const closing = Promise.all(peers.map((peer) => peer.close()));
  await vi.advanceTimersByTimeAsync(60_000);
  await closing;
  await vi.runOnlyPendingTimersAsync();
  vi.useRealTimers();
}

/** Every status `peer` reports from now on, collected as they come. */
export function collect(peer: { status(): AsyncIterable<Status> }): Status[] {
  const seen: Status[] = [];
  void (async () => {
    for await (const status of peer.status()) seen.push(status);
  })();
  return seen;
}

/** The ids of the requests `socket` carried, in order (re-sends included). */
export function requestIds(socket: FakeSocket): string[] {
  return socket.framesOf("request").map((frame) => frame.id);
}

/** The ids `socket` acked, in order. */
export function ackedIds(socket: FakeSocket): string[] {
  return socket.framesOf("ack").flatMap((frame) => frame.ids);
}

/**
 * A token-shaped string naming `sub` (and `exp`, epoch seconds, when given): the relay checks
 * signatures, the SDK reads only the claims. `n` tells tokens of one identity apart.
 */
export function fakeToken(sub: string, n: number, exp?: number): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "HS256" })}.${part({ sub, n, exp })}.signature`;
}
