/**
 * The queue-link sockets a QueueDO holds (link-attachment.ts), cached per wake: found by client
 * identity for the direct outcome route, with the principal each acts as, and the next token
 * expiry among them. Rebuilt from the Hibernation API's tagged sockets after a wake. A link that
 * holds MAX_UNACKED_PER_LINK outcomes, or MAX_UNACKED_CHARS_PER_LINK characters of them, not yet
 * acked gets no more: the rest go through the exchange (which caps what it holds per identity),
 * so a client that never acks, or never reads its socket, cannot make its partition hold or
 * buffer outcomes without bound.
 * Used by queue-state.ts, link-upgrade.ts, link-messages.ts and outcome-delivery.ts.
 */
import { CLOSE_CODE, type Principal } from "../../protocol/index.js";
import { packFrames } from "../exchange/frame-batches.js";
import { principalOf } from "../shared/principal-header.js";
import { connectionRefusal, NEVER_EXPIRES, nextExpiry } from "../shared/token-expiry.js";
import { send } from "./frame-outbox.js";
import { LINK_TAG, type LinkAttachment, readLinkAttachment } from "./link-attachment.js";
import { closeQuietly } from "./server-socket.js";

/** Most outcomes sent on one link and not yet acked; past it, outcomes go through the exchange. */
export const MAX_UNACKED_PER_LINK = 1_000;

/** Most characters of outcomes sent on one link and not yet acked (the exchange's cap, 32 Mi). */
export const MAX_UNACKED_CHARS_PER_LINK = 32 * 1024 * 1024;

/**
 * How long an `accepted` frame may wait for its request's outcome, so that both go in one
 * message. A fast request then costs the client one message instead of two: measured with the
 * client and server in separate processes, the lone `accepted` message added ~550 µs to a
 * ~750 µs serial round trip on a 2-core machine (bench/README.md).
 */
export const ACCEPTED_HOLD_MS = 10;

export interface Link {
  ws: WebSocket;
  attachment: LinkAttachment;
  principal: Principal;
  /** Outcomes sent on this link that its client has not acked yet, and their characters. */
  unacked: number;
  unackedChars: number;
  /** Encoded `accepted` frames held for up to ACCEPTED_HOLD_MS (see there). */
  held: string[];
}

export class LinkRegistry {
  /** The newest link of each identity; undefined until read after a wake. */
  private byIdentity: Map<string, Link> | undefined;
  /** The same links by socket, so a message needs no attachment read (refilled after a wake). */
  private readonly bySocketMap = new WeakMap<WebSocket, Link>();
  /** Cached `nextExpiry` input: the earliest token expiry among the links (NEVER_EXPIRES: none). */
  private earliestExpiry: number | undefined;
  /** Links holding `accepted` frames, flushed together by one timer. */
  private readonly holding = new Set<Link>();
  private holdTimer: ReturnType<typeof setTimeout> | undefined;

  /**
   * `beforeTimedFlush` runs before the hold timer sends held frames (queue-state.ts); `holdMs`:
   * how long an `accepted` may wait for its outcome (ACCEPTED_HOLD_MS).
   */
  constructor(
    private readonly ctx: DurableObjectState,
    private readonly beforeTimedFlush: () => void = () => {},
    private readonly holdMs = ACCEPTED_HOLD_MS,
  ) {}

  add(ws: WebSocket, attachment: LinkAttachment): Link {
    const principal = principalOf(attachment.identity, attachment.principal);
    const link: Link = { ws, attachment, principal, unacked: 0, unackedChars: 0, held: [] };
    this.links().set(attachment.identity, link);
    this.bySocketMap.set(ws, link);
    this.earliestExpiry = undefined;
    return link;
  }

  /** Forgets the link `connId` (closed or replaced); true when it was the identity's link. */
  remove(identity: string, connId: string): boolean {
    const links = this.links();
    const link = links.get(identity);
    if (link?.attachment.connId !== connId) return false;
    links.delete(identity);
    this.bySocketMap.delete(link.ws);
    this.holding.delete(link);
    this.earliestExpiry = undefined;
    return true;
  }

  /** How many links are open. */
  get size(): number {
    return this.links().size;
  }

  get(identity: string): Link | undefined {
    return this.links().get(identity);
  }

  /** The current link on socket `ws`, found without reading its attachment. */
  bySocket(ws: WebSocket): Link | undefined {
    this.links();
    return this.bySocketMap.get(ws);
  }

  /** The link of `ws`, if it is a current one. */
  of(ws: WebSocket, attachment: LinkAttachment): Link | undefined {
    const link = this.get(attachment.identity);
    return link?.attachment.connId === attachment.connId && link.ws === ws ? link : undefined;
  }

  /**
   * Sends encoded outcome frames on `identity`'s link if it may take them (within the unacked
   * caps); the link, or undefined.
   */
  send(identity: string, texts: readonly string[]): Link | undefined {
    const link = this.get(identity);
    if (link === undefined || link.unacked + texts.length > MAX_UNACKED_PER_LINK) return undefined;
    let chars = 0;
    for (const text of texts) chars += text.length;
    if (link.unackedChars + chars > MAX_UNACKED_CHARS_PER_LINK) return undefined;
    if (link.ws.readyState !== WebSocket.READY_STATE_OPEN) return undefined;
    const frames = link.held.length === 0 ? texts : [...this.release(link), ...texts];
    for (const message of packFrames(frames)) send(link.ws, message);
    link.unacked += texts.length;
    link.unackedChars += chars;
    return link;
  }

  /**
   * Holds an encoded `accepted` frame for `link`: it goes with the link's next outcome, or on its
   * own after ACCEPTED_HOLD_MS, whichever comes first.
   */
  hold(link: Link, text: string): void {
    link.held.push(text);
    this.holding.add(link);
    // One timer for all links, not cleared when their frames go with outcomes (a timer set and
    // cleared per request costs more than one that fires with nothing to do).
    this.holdTimer ??= setTimeout(() => {
      // Nothing held any more: no writes to hurry.
      if (this.holding.size > 0) this.beforeTimedFlush();
      this.flushHeld();
    }, this.holdMs);
  }

  /** Sends every held `accepted` frame now. */
  flushHeld(): void {
    if (this.holdTimer !== undefined) clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
    for (const link of this.holding) {
      const texts = this.release(link);
      for (const message of packFrames(texts)) send(link.ws, message);
    }
    this.holding.clear();
  }

  private release(link: Link): string[] {
    const texts = link.held;
    link.held = [];
    this.holding.delete(link);
    return texts;
  }

  /** Closes every link with `code`, dropping the frames they held; returns the ones closed. */
  closeAll(code: number, reason: string): Link[] {
    const closed = [...this.links().values()];
    for (const link of closed) {
      this.release(link);
      closeQuietly(link.ws, code, reason);
      this.remove(link.attachment.identity, link.attachment.connId);
    }
    return closed;
  }

  /** The next moment a link's token expires (for the queue's alarm). */
  nextExpiry(now: number): number | undefined {
    return nextExpiry([this.earliest()], now);
  }

  /** Closes links whose token no longer holds (4401); returns the ones closed. */
  closeExpired(devMode: boolean, now: number): Link[] {
    if (connectionRefusal(this.earliest(), devMode, now) === undefined) return [];
    const closed: Link[] = [];
    for (const link of this.links().values()) {
      const reason = connectionRefusal(link.attachment.principal.expiresAt, devMode, now);
      if (reason === undefined) continue;
      closeQuietly(link.ws, CLOSE_CODE.unauthorized, reason);
      closed.push(link);
    }
    for (const link of closed) this.remove(link.attachment.identity, link.attachment.connId);
    return closed;
  }

  private earliest(): number {
    this.earliestExpiry ??= Math.min(
      NEVER_EXPIRES,
      ...[...this.links().values()].map((l) => l.attachment.principal.expiresAt),
    );
    return this.earliestExpiry;
  }

  private links(): Map<string, Link> {
    if (this.byIdentity !== undefined) return this.byIdentity;
    const links = new Map<string, Link>();
    for (const ws of this.ctx.getWebSockets(LINK_TAG)) {
      const attachment = readLinkAttachment(ws.deserializeAttachment());
      if (attachment === undefined) continue;
      const principal = principalOf(attachment.identity, attachment.principal);
      const link: Link = { ws, attachment, principal, unacked: 0, unackedChars: 0, held: [] };
      links.set(attachment.identity, link);
      this.bySocketMap.set(ws, link);
    }
    this.byIdentity = links;
    return links;
  }
}
