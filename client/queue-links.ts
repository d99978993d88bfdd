/**
 * A peer's queue links (route "queue"): one client socket to `/v1/queues/<queue>/connect` per
 * queue it sends requests to, opened lazily at the first one, so that a request and its outcome
 * skip the exchange. A link that cannot connect (the network, a relay restarting) keeps trying,
 * with backoff, its first connection too; requests go through /v1/connect meanwhile. A link that
 * ends for good (refused, replaced, token expired) is forgotten and its queue stays on
 * /v1/connect (up to MAX_EXCHANGE_ONLY such queues are remembered; a forgotten one just gets a
 * link tried again at its next request).
 *
 * Links are bounded, so a long-lived peer that sends to many queues (per-job, per-tenant) does not
 * keep a socket per queue forever. A link is closed (code 1000, by the SDK: no status, no error)
 * once it is idle: no request of the peer's for its queue is pending (`pendingQueues`) and nothing
 * was sent or received on it for LINK_IDLE_CLOSE_MS; one timer sweeps every LINK_SWEEP_MS while
 * any link is open. At most MAX_QUEUE_LINKS links are open at once: a new queue's link replaces
 * the least recently used idle one (no pending request, however recently used); with none idle,
 * the new queue's requests go over /v1/connect for now, and it gets a link at a later request
 * once room is made. A link is never closed with a request for its queue pending, so no request
 * waits on a closed link; a request made once a link is closing finds no link and goes over
 * /v1/connect while a fresh one opens. Outcomes the relay sent down a closed link and that were
 * not acked are sent again through the exchange (durable-objects/queue/outcome-delivery.ts);
 * acks gathered so far are flushed (`flushAcks`) before a link closes. Used by peer.ts, which routes.
 */
import { type EdgeMQError, type Frame, PATHS } from "../protocol/index.js";
import type { BackoffOptions } from "./backoff.js";
import { Connection } from "./connection.js";
import { startTimer, stopTimer, type TimerHandle } from "./platform.js";
import type { RelayReachability } from "./relay-reachability.js";
import type { Route } from "./requester.js";
import type { Status } from "./status.js";
import type { LiveCredentials } from "./url.js";
import type { WebSocketConstructor } from "./websocket.js";

export interface QueueLinkEvents {
  /** Link `queue` got a welcome: the first one, or again after a drop (`reconnected`). */
  welcome(queue: string, reconnected: boolean): void;
  /** A frame other than `welcome` arrived on link `queue`, whose route is `route`. */
  frame(frame: Frame, queue: string, route: Route): void;
  /** Link `queue` ended for good; the queue is exchange-only from now on. */
  terminated(queue: string, error: EdgeMQError): void;
  /** A link's status, tagged with its `queue` and `link: true`. */
  status(status: Status): void;
}

export interface QueueLinksSetup {
  urlFor(queue: string): string;
  /** Signed mode: the peer's credentials, read at each open (connection.ts). */
  credentials: LiveCredentials | undefined;
  WebSocket: WebSocketConstructor;
  backoff: BackoffOptions;
  /** The peer's, shared by all of its sockets (connection.ts `reachability`). */
  reachability?: RelayReachability | undefined;
  /** True while the peer awaits outcomes: links then ping faster (connection.ts `busy`). */
  busy?: () => boolean;
  /** Why `queue`'s link keeps failing as a bare 1006 (connection.ts `explainRefusal`). */
  explainRefusal?: (queue: string) => Promise<EdgeMQError | undefined>;
  /** The queues the peer has requests unfinished for: their links are never closed. */
  pendingQueues(): ReadonlySet<string>;
  /** Sends the acks gathered so far, before an idle link closes (Requester.flushAcks). */
  flushAcks(): void;
  events: QueueLinkEvents;
}

/**
 * How long a link stays open with no pending request for its queue and no frame sent or received
 * on it: 5 minutes, long enough that a queue used every few seconds or minutes keeps its link (a
 * new link costs a socket and its first requests go the slower way, over /v1/connect), short
 * enough that the links of queues used once (per-job, per-tenant names) do not pile up.
 */
export const LINK_IDLE_CLOSE_MS = 5 * 60_000;
/** How often the one sweep timer looks for idle links, while any link is open. */
export const LINK_SWEEP_MS = 60_000;
/**
 * Most links open at once. Past it, a new queue's link replaces the least recently used idle one;
 * with none idle, that queue's requests go over /v1/connect (links only save the exchange hop).
 */
export const MAX_QUEUE_LINKS = 64;
/** How long after finding every link busy the next new queue's link waits to look again. */
export const NO_ROOM_RECHECK_MS = 1_000;
/** Most exchange-only queues remembered; the oldest is forgotten first (its link is tried again). */
export const MAX_EXCHANGE_ONLY = 1_000;

interface LinkEntry {
  queue: string;
  connection: Connection;
  /** Epoch ms of the last request for the queue or frame sent or received on the link. */
  usedAt: number;
}

export class QueueLinks {
  readonly #setup: QueueLinksSetup;
  /** Open or reconnecting links, by route (the link's path). */
  readonly #links = new Map<Route, LinkEntry>();
  /** Queues whose link ended for good, oldest first: no new link is tried for them. */
  readonly #exchangeOnly = new Set<string>();
  /** Links closing as idle (or to make room), until their close completes. */
  readonly #closing = new Set<Promise<void>>();
  /** The sweep for idle links: set while any link is open. */
  #sweep: TimerHandle | undefined;
  /** Until then (epoch ms), no link is idle enough to make room: see #makeRoom. */
  #noRoomUntil = 0;
  #closed = false;

  constructor(setup: QueueLinksSetup) {
    this.#setup = setup;
  }

  /**
   * Opens `queue`'s link (at a request for it) unless it has one, is exchange-only, or the links
   * are closed; with MAX_QUEUE_LINKS open, only by closing the least recently used idle one.
   */
  ensure(queue: string): void {
    const route = PATHS.queueConnect(queue);
    const existing = this.#links.get(route);
    if (existing !== undefined) existing.usedAt = Date.now();
    if (this.#closed || existing !== undefined || this.#exchangeOnly.has(queue)) return;
    if (this.#links.size >= MAX_QUEUE_LINKS && !this.#makeRoom()) return;
    const entry: LinkEntry = { queue, connection: this.#open(queue, route), usedAt: Date.now() };
    // A link whose socket could not even be built has ended already, inside #open().
    if (this.#exchangeOnly.has(queue)) return;
    this.#links.set(route, entry);
    this.#startSweep();
  }

  /** The route of `queue`'s link while it is open (welcomed, not dropped since), else undefined. */
  openRoute(queue: string): Route | undefined {
    const route = PATHS.queueConnect(queue);
    return this.#links.get(route)?.connection.isOpen === true ? route : undefined;
  }

  /** Sends `frame` on the link of `route`; false (not sent) unless that link is open. */
  send(route: Route, frame: Frame): boolean {
    const entry = this.#links.get(route);
    if (entry?.connection.send(frame) !== true) return false;
    entry.usedAt = Date.now();
    return true;
  }

  /** Closes every link (sending what is queued first) and opens no new one. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#stopSweep();
    const links = [...this.#links.values()];
    this.#links.clear();
    await Promise.all([...links.map((entry) => entry.connection.close()), ...this.#closing]);
  }

  #open(queue: string, route: Route): Connection {
    const { events } = this.#setup;
    const link = new Connection({
      url: this.#setup.urlFor(queue),
      credentials: this.#setup.credentials,
      WebSocket: this.#setup.WebSocket,
      backoff: this.#setup.backoff,
      reachability: this.#setup.reachability,
      // A first connection that fails is retried like a dropped one; only a refusal ends it.
      retryFirst: true,
      queue,
      busy: this.#setup.busy,
      explainRefusal: explainFor(this.#setup.explainRefusal, queue),
      events: {
        welcome: (_frame, reconnected) => events.welcome(queue, reconnected),
        frame: (frame) => {
          const entry = this.#links.get(route);
          if (entry?.connection === link) entry.usedAt = Date.now();
          events.frame(frame, queue, route);
        },
        status: (status) =>
          events.status(status.type === "closed" ? status : { ...status, link: true }),
        terminated: (error) => this.#terminated(queue, route, error),
      },
    });
    // A link that fails to open is not an error anyone awaits: terminated() handles it.
    link.opened.catch(() => {});
    return link;
  }

  #terminated(queue: string, route: Route, error: EdgeMQError): void {
    this.#links.delete(route);
    if (this.#links.size === 0) this.#stopSweep();
    this.#exchangeOnly.delete(queue);
    this.#exchangeOnly.add(queue);
    if (this.#exchangeOnly.size > MAX_EXCHANGE_ONLY) {
      const oldest = this.#exchangeOnly.values().next();
      if (oldest.done !== true) this.#exchangeOnly.delete(oldest.value);
    }
    this.#setup.events.status({ type: "error", error, queue, link: true });
    this.#setup.events.terminated(queue, error);
  }

  /**
   * Makes room for a new link by closing the least recently used idle one; false when none is
   * idle. Having found none, it looks again only after NO_ROOM_RECHECK_MS: each look scans the
   * peer's pending requests, and a peer busy on more than MAX_QUEUE_LINKS queues would otherwise
   * pay for one at every request.
   */
  #makeRoom(): boolean {
    const now = Date.now();
    if (now < this.#noRoomUntil) return false;
    if (this.#closeLeastRecentlyUsed()) return true;
    this.#noRoomUntil = now + NO_ROOM_RECHECK_MS;
    return false;
  }

  /** Closes the least recently used idle link to make room for another; false when none is idle. */
  #closeLeastRecentlyUsed(): boolean {
    const pending = this.#setup.pendingQueues();
    let oldest: [Route, LinkEntry] | undefined;
    for (const [route, entry] of this.#links) {
      const idle = !pending.has(entry.queue);
      if (idle && (oldest === undefined || entry.usedAt < oldest[1].usedAt)) {
        oldest = [route, entry];
      }
    }
    if (oldest === undefined) return false;
    this.#closeIdle([oldest]);
    return true;
  }

  /**
   * Closes idle links cleanly (code 1000, no status): the acks gathered so far go out first, and
   * each link leaves the routes at once, so a request made from now on finds no link: it goes over
   * /v1/connect and ensure() opens a fresh link.
   */
  #closeIdle(links: readonly [Route, LinkEntry][]): void {
    if (links.length === 0) return;
    this.#setup.flushAcks();
    for (const [route, entry] of links) {
      if (this.#links.get(route) !== entry) continue;
      this.#links.delete(route);
      const closing = entry.connection.close();
      this.#closing.add(closing);
      void closing.finally(() => this.#closing.delete(closing));
    }
    if (this.#links.size === 0) this.#stopSweep();
  }

  #startSweep(): void {
    if (this.#sweep !== undefined || this.#closed) return;
    this.#sweep = startTimer(() => {
      this.#sweep = undefined;
      const idleSince = Date.now() - LINK_IDLE_CLOSE_MS;
      const pending = this.#setup.pendingQueues();
      this.#closeIdle(
        [...this.#links].filter(
          ([, entry]) => entry.usedAt <= idleSince && !pending.has(entry.queue),
        ),
      );
      if (this.#links.size > 0) this.#startSweep();
    }, LINK_SWEEP_MS);
  }

  #stopSweep(): void {
    stopTimer(this.#sweep);
    this.#sweep = undefined;
  }
}

/** A link's explainRefusal: the setup's, asked about its queue. */
function explainFor(
  explain: QueueLinksSetup["explainRefusal"],
  queue: string,
): (() => Promise<EdgeMQError | undefined>) | undefined {
  return explain === undefined ? undefined : () => explain(queue);
}
