/**
 * A raw WebSocket peer (the `ws` package) that speaks frames by hand: it opens a client or server
 * socket on the relay, waits for `welcome`, records every frame received (batches are split), and
 * can send anything, valid or not. Every wait is bounded.
 */
import WebSocket from "ws";
import { type Fields, isRecord } from "./guards.js";

export class RawSocket {
  readonly frames: Fields[] = [];
  /** Text messages that were not JSON frames (e.g. "pong"). */
  readonly otherText: string[] = [];
  closeCode: number | undefined;
  private readonly ws: WebSocket;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on("message", (data, isBinary) => this.onMessage(data, isBinary));
    ws.on("close", (code) => {
      this.closeCode = code;
    });
  }

  /** Opens `path` (e.g. /v1/connect) as `identity` and waits for the relay's welcome frame. */
  static async open(relayUrl: string, path: string, identity: string): Promise<RawSocket> {
    const url = `${relayUrl}${path}?identity=${encodeURIComponent(identity)}`;
    const ws = new WebSocket(url, { maxPayload: 64 * 1024 * 1024 });
    const socket = new RawSocket(ws);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`open ${url}: timed out`)), 15_000);
      ws.once("open", () => {
        clearTimeout(timer);
        resolve();
      });
      ws.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
    await socket.waitFor((f) => f.type === "welcome", 1, 15_000);
    return socket;
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Sends a frame (serialised as JSON), a raw text, or binary data. */
  send(data: Fields | Fields[] | string | Uint8Array): void {
    if (typeof data === "string" || data instanceof Uint8Array) this.ws.send(data);
    else this.ws.send(JSON.stringify(data));
  }

  /** Waits until `count` received frames match `match`; returns them. */
  async waitFor(
    match: (f: Fields) => boolean,
    count: number,
    timeoutMs: number,
  ): Promise<Fields[]> {
    const until = Date.now() + timeoutMs;
    for (let i = 0; i < 1_000_000 && Date.now() < until; i++) {
      const found = this.frames.filter(match);
      if (found.length >= count) return found;
      await new Promise((r) => setTimeout(r, 20));
    }
    const seen = this.frames.filter(match).length;
    throw new Error(`raw socket: saw ${seen} of ${count} expected frames in ${timeoutMs} ms`);
  }

  /** Resolves once the socket has flushed what was sent (bounded). */
  async drain(timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    for (let i = 0; i < 100_000 && this.ws.bufferedAmount > 0 && Date.now() < until; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    const closed = new Promise<void>((resolve) => this.ws.once("close", () => resolve()));
    this.ws.close(1000, "done");
    const timer = setTimeout(() => this.ws.terminate(), 5_000);
    await closed;
    clearTimeout(timer);
  }

  private onMessage(data: WebSocket.RawData, isBinary: boolean): void {
    if (isBinary) return;
    const text = data.toString();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      this.otherText.push(text);
      return;
    }
    for (const item of Array.isArray(parsed) ? parsed : [parsed]) {
      if (isRecord(item)) this.frames.push(item);
    }
  }
}
