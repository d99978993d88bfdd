/**
 * A peer's queue links (route "queue"): one client socket to `/v1/queues/<queue>/connect` per
 * queue it sends requests to, opened lazily at the first one, so that a request and its outcome
 * skip the exchange. A link that cannot connect (the network, a relay restarting) keeps trying,
 * with backoff, its first connection too; requests go through /v1/connect meanwhile. A link that
 * ends for good (refused, replaced, token expired) is forgotten and its queue stays on
 * /v1/connect for the rest of the peer's life. Used by peer.ts, which routes.
 */
import { type EdgeMQError, type Frame, PATHS } from "../protocol/index.js";
import type { BackoffOptions } from "./backoff.js";
import { Connection } from "./connection.js";
import type { Route } from "./requester.js";
import type { Status } from "./status.js";
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
  protocols: string[] | undefined;
  WebSocket: WebSocketConstructor;
  backoff: BackoffOptions;
  /** True while the peer awaits outcomes: links then ping faster (connection.ts `busy`). */
  busy?: () => boolean;
  events: QueueLinkEvents;
}

export class QueueLinks {
  readonly #setup: QueueLinksSetup;
  /** Open or reconnecting links, by route (the link's path). */
  readonly #links = new Map<Route, Connection>();
  /** Queues whose link ended for good: no new link is tried for them. */
  readonly #exchangeOnly = new Set<string>();
  #closed = false;

  constructor(setup: QueueLinksSetup) {
    this.#setup = setup;
  }

  /** Opens `queue`'s link unless it has one, is exchange-only, or the links are closed. */
  ensure(queue: string): void {
    const route = PATHS.queueConnect(queue);
    if (this.#closed || this.#links.has(route) || this.#exchangeOnly.has(queue)) return;
    const link = this.#open(queue, route);
    // A link whose socket could not even be built has ended already, inside #open().
    if (!this.#exchangeOnly.has(queue)) this.#links.set(route, link);
  }

  /** The route of `queue`'s link while it is open (welcomed, not dropped since), else undefined. */
  openRoute(queue: string): Route | undefined {
    const route = PATHS.queueConnect(queue);
    return this.#links.get(route)?.isOpen === true ? route : undefined;
  }

  /** Sends `frame` on the link of `route`; false (not sent) unless that link is open. */
  send(route: Route, frame: Frame): boolean {
    return this.#links.get(route)?.send(frame) === true;
  }

  /** Closes every link (sending what is queued first) and opens no new one. */
  async close(): Promise<void> {
    this.#closed = true;
    const links = [...this.#links.values()];
    this.#links.clear();
    await Promise.all(links.map((link) => link.close()));
  }

  #open(queue: string, route: Route): Connection {
    const { events } = this.#setup;
    const link = new Connection({
      url: this.#setup.urlFor(queue),
      protocols: this.#setup.protocols,
      WebSocket: this.#setup.WebSocket,
      backoff: this.#setup.backoff,
      // A first connection that fails is retried like a dropped one; only a refusal ends it.
      retryFirst: true,
      queue,
      busy: this.#setup.busy,
      events: {
        welcome: (_frame, reconnected) => events.welcome(queue, reconnected),
        frame: (frame) => events.frame(frame, queue, route),
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
    this.#exchangeOnly.add(queue);
    this.#setup.events.status({ type: "error", error, queue, link: true });
    this.#setup.events.terminated(queue, error);
  }
}
