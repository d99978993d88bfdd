/**
 * One peer's word that the relay is within reach again, shared by all of its sockets: the client
 * socket, its queue links and its server sockets (peer.ts gives the same one to each Connection).
 * A socket whose drop says the relay was out of reach (lostReach: a close without the relay's word,
 * 1006, or 1001 going away; a proxy's 502 to 504) waits out its reconnect delay (full jitter, up
 * to 10 s) listening here, and tries again at once when another socket of the peer is welcomed:
 * the relay is back (a restart, a deploy), where each socket slept its own draw (a probe, relay
 * SIGKILLed and back after 2 s: a server socket drew 7.5 s and reconnected 7 s after the peer's
 * other socket, its 40 replies waiting meanwhile). A socket is woken at most once per outage
 * (connection.ts), so a woken try that fails waits out its backoff: no burst of tries. A socket
 * refused (a close or status the relay gave on purpose) or closed by its user is never woken.
 * http-link.ts wakes an HTTP peer's retries with it the same way. In a browser the page's `online`
 * event wakes them too, listened to only while one waits: a tab offline for 6 s otherwise got its
 * reply up to 10 s after the network came back (a browser probe).
 */
import { CLOSE_CODE } from "../protocol/index.js";
import { onNetworkBack } from "./platform.js";

/** The close code a WebSocket reports when the connection ended without a close frame. */
const ABNORMAL_CLOSE = 1006;
/** A refused upgrade's statuses that come from a proxy in front of a relay out of reach. */
const GATEWAY_STATUSES = new Set([502, 503, 504]);

/**
 * Whether a socket that closed with `code` (and, for a refused upgrade, `httpStatus`) failed to
 * reach the relay, rather than being closed or refused by a relay at work (1008, 1011, 429, ...).
 */
export function lostReach(code: number, httpStatus: number | undefined): boolean {
  if (httpStatus !== undefined) return GATEWAY_STATUSES.has(httpStatus);
  return code === ABNORMAL_CLOSE || code === CLOSE_CODE.goingAway;
}

export class RelayReachability {
  readonly #waiting = new Set<() => void>();
  /** Subscribes to the platform's "the network is back" (platform.ts onNetworkBack). */
  readonly #networkBack: (listener: () => void) => () => void;
  /** Stops listening for the network coming back (set while a socket waits). */
  #unlisten: (() => void) | undefined;

  constructor(networkBack: (listener: () => void) => () => void = onNetworkBack) {
    this.#networkBack = networkBack;
  }

  /**
   * Calls `wake` once, at the next reached() or the network's coming back, unless the returned
   * function is called first (the delay ended on its own, or the socket closed).
   */
  onReached(wake: () => void): () => void {
    this.#waiting.add(wake);
    this.#unlisten ??= this.#networkBack(() => this.reached());
    return () => {
      this.#waiting.delete(wake);
      if (this.#waiting.size === 0) this.#stopListening();
    };
  }

  /** A socket of the peer was welcomed by the relay: every socket waiting on it goes now. */
  reached(): void {
    const woken = [...this.#waiting];
    this.#waiting.clear();
    this.#stopListening();
    for (const wake of woken) wake();
  }

  #stopListening(): void {
    this.#unlisten?.();
    this.#unlisten = undefined;
  }

  /** How many sockets wait on reached() (for tests). */
  get waiting(): number {
    return this.#waiting.size;
  }
}
