/**
 * Bench-only: the relay's floor. The real Worker (front door, exchange, queue upgrades, welcomes,
 * `ready`) with one change: a memory queue's requests and replies skip everything the relay does
 * for them and only move their bytes (bench/README.md, eighth part). A link's `request` is parsed
 * and sent on as one `dispatch` to the first server socket; that server's `reply` goes back down
 * the link as `[accepted, reply]`. Nothing is stored, leased, timed, checked or acked (a link's
 * `ack` is dropped). Same SDK peers, same frames, same four messages per round trip: so the
 * serial workload on this Worker is the least a relay speaking this protocol can take here, and
 * `npm run bench` reports it beside the relay, as a ratio to the same run's echo. Not a relay:
 * started by bench/run.mjs only.
 */
import { readLinkAttachment } from "../../durable-objects/queue/link-attachment.js";
import { QueueDO } from "../../durable-objects/queue/queue-do.js";
import { SERVER_TAG } from "../../durable-objects/queue/server-attachment.js";
import type { DispatchFrame, Frame } from "../../protocol/index.js";

export { ExchangeDO } from "../../durable-objects/exchange/exchange-do.js";
export { default } from "../../src/index.js";

interface Waiting {
  link: WebSocket;
  id: string;
  deadline: number;
}

const DEFAULT_TIMEOUT_MS = 30_000;

/** QueueDO with a request and reply path that does nothing but move them. */
export class FloorQueueDO extends QueueDO {
  /** The identity behind each link socket; null for a socket that is not a link. */
  private readonly roles = new WeakMap<WebSocket, string | null>();
  private readonly waiting = new Map<string, Waiting>();
  private next = 0;

  override webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    if (typeof message !== "string" || (!message.startsWith("{") && !message.startsWith("["))) {
      return super.webSocketMessage(ws, message);
    }
    const parsed: unknown = JSON.parse(message);
    const frames = (Array.isArray(parsed) ? parsed : [parsed]) as Frame[];
    const identity = this.identityOf(ws);
    let moved = false;
    for (const frame of frames) {
      if (identity !== null && frame.type === "request") moved = this.dispatch(ws, identity, frame);
      else if (identity === null && frame.type === "reply") moved = this.answer(frame);
      else if (frame.type === "ack") moved = true;
    }
    return moved ? Promise.resolve() : super.webSocketMessage(ws, message);
  }

  private identityOf(ws: WebSocket): string | null {
    let identity = this.roles.get(ws);
    if (identity === undefined) {
      identity = readLinkAttachment(ws.deserializeAttachment())?.identity ?? null;
      this.roles.set(ws, identity);
    }
    return identity;
  }

  private dispatch(link: WebSocket, from: string, frame: Frame & { type: "request" }): boolean {
    const server = this.ctx.getWebSockets(SERVER_TAG)[0];
    if (server === undefined) return false;
    const id = String(++this.next);
    const deadline = Date.now() + (frame.timeout ?? DEFAULT_TIMEOUT_MS);
    this.waiting.set(id, { link, id: frame.id, deadline });
    const dispatch: DispatchFrame = {
      type: "dispatch",
      id,
      from,
      queue: frame.queue,
      body: frame.body,
      deadline,
      attempt: 1,
    };
    server.send(JSON.stringify(dispatch));
    return true;
  }

  private answer(frame: Frame & { type: "reply" }): boolean {
    const waiting = this.waiting.get(frame.id);
    if (waiting === undefined) return false;
    this.waiting.delete(frame.id);
    const { link, id, deadline } = waiting;
    const frames: Frame[] = [
      { type: "accepted", id, deadline },
      { type: "reply", id, body: frame.body },
    ];
    link.send(JSON.stringify(frames));
    return true;
  }
}
