/**
 * One reconnecting WebSocket to the relay, used by peer.ts (the client socket) and service.ts (a
 * queue's server socket). It waits for the relay's `welcome`, coalesces the frames sent in one
 * tick into one message, keeps the socket alive with ping/pong (heartbeat.ts), and after an
 * unexpected drop reconnects with full-jitter backoff. It knows frames, not requests: its owner
 * re-sends state. When reconnects keep failing as a bare 1006 (how browsers, Deno, Bun and Node 22
 * hide a refused upgrade's HTTP status), it asks its owner why (`explainRefusal`: the relay over
 * HTTP) before the next retry, so a refused reconnect (an expired token) ends the connection
 * instead of retrying forever. A reconnect delay after the relay was out of reach ends early when
 * another socket of the same peer is welcomed (relay-reachability.ts), once per outage.
 */
import {
  CLOSE_CODE,
  DEFAULT_LIMITS,
  decodeFrames,
  EdgeMQError,
  ERROR_CODE,
  type Frame,
  type Limits,
  maxFrameChars,
  PONG_MESSAGE,
  type WelcomeFrame,
} from "../protocol/index.js";
import { type BackoffOptions, backoffDelay } from "./backoff.js";
import { packMessages } from "./batch.js";
import {
  closeFailure,
  describeClose,
  httpStatusOf,
  mayHideRefusal,
  refusalOf,
} from "./close-reasons.js";
import { Heartbeat } from "./heartbeat.js";
import { startTimer, stopTimer, type TimerHandle } from "./platform.js";
import { lostReach, type RelayReachability } from "./relay-reachability.js";
import type { Status } from "./status.js";
import { type LiveCredentials, subprotocols } from "./url.js";
import {
  CONNECTING,
  terminateSocket,
  trySend,
  type WebSocketConstructor,
  type WebSocketLike,
} from "./websocket.js";

export interface ConnectionEvents {
  /** The relay's welcome, on the first connection and on each reconnection. */
  welcome(frame: WelcomeFrame, reconnected: boolean): void;
  frame(frame: Frame): void;
  status(status: Status): void;
  /** The connection ended for good without close() being called (refused, replaced, failed). */
  terminated(error: EdgeMQError): void;
}

export interface ConnectionOptions {
  url: string;
  /**
   * The peer's credentials (signed mode): the token goes as a subprotocol, read at each open, and
   * a 4401 (token expired) after the token was renewed reconnects instead of ending.
   */
  credentials?: LiveCredentials | undefined;
  WebSocket: WebSocketConstructor;
  backoff: BackoffOptions;
  events: ConnectionEvents;
  /** Keep retrying when the very first connection fails (server sockets); default: give up. */
  retryFirst?: boolean;
  /**
   * Asks the relay why reconnecting failed when the platform hid it (peer.ts: `GET /v1/whoami`
   * with the same credentials). Resolves with the relay's error, or undefined when it has none;
   * only a refusal (bad_request, unauthorized, forbidden) ends the connection. Without it, such
   * failures are retried like any drop.
   */
  explainRefusal?: (() => Promise<EdgeMQError | undefined>) | undefined;
  /**
   * True while the owner may be waiting on this socket (unanswered requests; a server socket): the
   * heartbeat then pings faster, to find a half-open socket within a lease (heartbeat.ts).
   */
  busy?: (() => boolean) | undefined;
  /**
   * Shared by every socket of one peer (peer.ts): a welcome here tells the others the relay is
   * back, and a delay after the relay was out of reach ends at another socket's welcome.
   */
  reachability?: RelayReachability | undefined;
  /** Tags statuses with the queue a server socket serves. */
  queue?: string;
  random?: () => number;
}

type State = "connecting" | "open" | "waiting" | "closed";

/** Why a socket whose upgrade got no answer (still CONNECTING at the heartbeat's timeout) ended. */
const UPGRADE_UNANSWERED =
  'no answer to the WebSocket upgrade (a proxy may hold upgrades: transport "auto" or "http" goes through it)';

/** How long close() waits for the socket's close handshake before ending the socket at once. */
const CLOSE_WAIT_MS = 1_000;
/**
 * Consecutive attempts failed as a bare 1006 before each further one asks explainRefusal: a single
 * one is usually a transient drop (a relay restarting), not worth an HTTP call.
 */
const HIDDEN_FAILURES_BEFORE_ASKING = 2;
/**
 * How long a retry waits for explainRefusal's answer before going ahead without it (a relay that
 * accepts connections and never answers must not hold reconnects up for long).
 */
const EXPLAIN_WAIT_MS = 3_000;

export class Connection {
  /** The limits from the latest welcome. */
  limits: Limits = { ...DEFAULT_LIMITS };
  /** Settles with the first welcome, or with the error that ended the connection before it. */
  readonly opened: Promise<WelcomeFrame>;
  readonly #options: ConnectionOptions;
  #resolveOpened: (frame: WelcomeFrame) => void = () => {};
  #rejectOpened: (error: EdgeMQError) => void = () => {};
  #state: State = "connecting";
  #socket: WebSocketLike | undefined;
  #everOpened = false;
  #attempt = 0;
  #outbox: Frame[] = [];
  #flushScheduled = false;
  readonly #heartbeat = new Heartbeat();
  #retry: TimerHandle | undefined;
  #httpStatus: number | undefined;
  /** Consecutive attempts that failed before their welcome as a bare 1006 (mayHideRefusal). */
  #hiddenFailures = 0;
  #lastError: string | undefined;
  /** The credentials' revision the current socket opened with (renewed since: see #renewedSince). */
  #openedRevision: number | undefined;
  #closeWaiter: (() => void) | undefined;
  /** Whether a reconnect delay may still end at another socket's welcome (once per outage). */
  #wakeAllowed = true;
  /** Stops the current delay's listening on the peer's reachability (set while it listens). */
  #unwait: (() => void) | undefined;

  constructor(options: ConnectionOptions) {
    this.#options = options;
    this.opened = new Promise<WelcomeFrame>((resolve, reject) => {
      this.#resolveOpened = resolve;
      this.#rejectOpened = reject;
    });
    this.opened.catch(() => {});
    this.#open();
  }

  get isOpen(): boolean {
    return this.#state === "open";
  }

  /** Queues a frame for this tick's message; false (not sent) unless the socket is welcomed. */
  send(frame: Frame): boolean {
    if (this.#state !== "open") return false;
    this.#outbox.push(frame);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      void Promise.resolve().then(() => this.#flush());
    }
    return true;
  }

  /** Sends what is queued, closes the socket and stops reconnecting. */
  async close(): Promise<void> {
    if (this.#state === "closed") return;
    this.#flush();
    this.#state = "closed";
    stopTimer(this.#retry);
    this.#stopWaking();
    this.#heartbeat.stop();
    this.#rejectOpened(new EdgeMQError(ERROR_CODE.closed, "connection closed by the client"));
    const socket = this.#socket;
    if (!socket) return;
    await new Promise<void>((resolve) => {
      const fallback = startTimer(() => {
        terminateSocket(socket, CLOSE_CODE.normal, "closed by client");
        resolve();
      }, CLOSE_WAIT_MS);
      this.#closeWaiter = () => {
        stopTimer(fallback);
        resolve();
      };
      const closeNow = () => {
        try {
          socket.close(CLOSE_CODE.normal, "closed by client");
        } catch {
          this.#closeWaiter?.();
        }
      };
      // A browser warns of a socket closed while CONNECTING ("closed before the connection is
      // established"): such a socket is closed once its handshake ends (a failed one ends it).
      if (socket.readyState === CONNECTING) socket.onopen = closeNow;
      else closeNow();
    });
    this.#socket = undefined;
  }

  /** Whether `code` says the socket's token expired and the peer has a newer one since it opened. */
  #renewedSince(code: number): boolean {
    const revision = this.#options.credentials?.revision;
    return code === CLOSE_CODE.unauthorized && revision !== this.#openedRevision;
  }

  #open(): void {
    this.#state = "connecting";
    this.#httpStatus = undefined;
    this.#lastError = undefined;
    let socket: WebSocketLike;
    try {
      const { url, credentials } = this.#options;
      const protocols = credentials === undefined ? undefined : subprotocols(credentials);
      this.#openedRevision = credentials?.revision;
      socket = protocols
        ? new this.#options.WebSocket(url, protocols)
        : new this.#options.WebSocket(url);
    } catch (cause) {
      const message = cause instanceof Error ? cause.message : "could not open a WebSocket";
      this.#dropped(1006, this.#redacted(message));
      return;
    }
    this.#socket = socket;
    socket.onmessage = (event) => {
      if (this.#socket === socket) this.#receive(event.data);
    };
    socket.onerror = (event) => {
      if (this.#socket !== socket) return;
      this.#httpStatus ??= httpStatusOf(event);
      if (typeof event.message === "string" && event.message !== "")
        this.#lastError = event.message;
    };
    socket.onclose = (event) => {
      if (this.#socket !== socket) return;
      if (this.#state === "closed") this.#closeWaiter?.();
      else this.#dropped(event.code, event.reason);
    };
    this.#heartbeat.start(socket, {
      isCurrent: () => this.#socket === socket,
      onTimeout: () => this.#heartbeatTimeout(socket),
      // Until its welcome a socket is watched at the busy pace: an upgrade no one answers (a
      // proxy holding it) ends after 15 s, not the idle 45.
      isBusy: () => this.#state === "connecting" || this.#options.busy?.() === true,
    });
  }

  #receive(data: unknown): void {
    this.#heartbeat.heard();
    if (data === PONG_MESSAGE) return;
    for (const result of decodeFrames(data)) {
      if (this.#state === "closed") return;
      if (!result.ok) {
        this.#status({ type: "error", error: result.error });
      } else if (result.value.type === "welcome") {
        this.#welcomed(result.value);
      } else {
        try {
          this.#options.events.frame(result.value);
        } catch (error) {
          this.#status({ type: "error", error: EdgeMQError.from(error) });
        }
      }
    }
  }

  #welcomed(frame: WelcomeFrame): void {
    if (this.#state !== "connecting") return;
    this.#state = "open";
    this.limits = frame.limits;
    this.#attempt = 0;
    this.#hiddenFailures = 0;
    this.#wakeAllowed = true;
    const reconnected = this.#everOpened;
    this.#everOpened = true;
    this.#status({ type: "connected" });
    this.#resolveOpened(frame);
    this.#options.events.welcome(frame, reconnected);
    // The relay is within reach: the peer's other sockets waiting out a delay go now.
    this.#options.reachability?.reached();
  }

  #dropped(code: number, reason: string): void {
    const welcomed = this.#state === "open";
    this.#heartbeat.stop();
    this.#socket = undefined;
    this.#outbox = [];
    const retrying = this.#everOpened || this.#options.retryFirst === true;
    const refused = this.#renewedSince(code)
      ? undefined
      : closeFailure(code, this.#httpStatus, reason, this.#lastError ?? "");
    // A socket that never opened and is refused was never connected: it only fails. An outage is
    // one `disconnected` (as over HTTP): a reconnect attempt that fails shows as the next
    // `reconnecting` only (#attempt is 0 until the first retry after a welcome).
    if (retrying && (this.#everOpened || !refused) && this.#attempt === 0) {
      this.#status({ type: "disconnected", code, reason });
    }
    if (refused || !retrying) {
      const error =
        refused ??
        new EdgeMQError(
          ERROR_CODE.closed,
          `could not connect to ${this.#safeUrl()}: ${describeClose(code, reason || this.#lastError || "")}`,
        );
      this.#terminate(error);
      return;
    }
    const outOfReach = lostReach(code, this.#httpStatus);
    const hidden = !welcomed && mayHideRefusal(code, this.#httpStatus);
    this.#hiddenFailures = hidden ? this.#hiddenFailures + 1 : 0;
    const explain = this.#options.explainRefusal;
    if (explain !== undefined && this.#hiddenFailures >= HIDDEN_FAILURES_BEFORE_ASKING) {
      this.#state = "waiting";
      void this.#askWhy(explain, outOfReach);
      return;
    }
    this.#scheduleRetry(outOfReach);
  }

  /**
   * A reconnect failed in a way that may hide a refusal: asks the relay, then ends the connection
   * on a refusal as a reported one would, else retries (no answer, or a network error: transient).
   */
  async #askWhy(
    explain: () => Promise<EdgeMQError | undefined>,
    outOfReach: boolean,
  ): Promise<void> {
    let answer: EdgeMQError | undefined;
    try {
      answer = await new Promise<EdgeMQError | undefined>((resolve, reject) => {
        // Kept in #retry, so close() stops it as it would a retry.
        this.#retry = startTimer(() => resolve(undefined), EXPLAIN_WAIT_MS);
        explain().then(resolve, reject);
      });
    } catch {
      answer = undefined;
    }
    stopTimer(this.#retry);
    this.#retry = undefined;
    if (this.#state !== "waiting") return;
    const refusal = refusalOf(answer);
    if (refusal !== undefined) this.#terminate(refusal);
    else this.#scheduleRetry(outOfReach);
  }

  #terminate(error: EdgeMQError): void {
    this.#state = "closed";
    this.#rejectOpened(error);
    this.#options.events.terminated(error);
  }

  /**
   * Reconnects after a backoff delay; after a drop that was `outOfReach`, sooner if another socket
   * of the peer is welcomed first (once per outage: a woken try that fails waits out its delay).
   */
  #scheduleRetry(outOfReach: boolean): void {
    const delayMs = backoffDelay(this.#attempt, this.#options.backoff, this.#options.random);
    this.#attempt += 1;
    this.#state = "waiting";
    this.#status({ type: "reconnecting", attempt: this.#attempt, delayMs });
    this.#retry = startTimer(() => {
      this.#retry = undefined;
      this.#stopWaking();
      if (this.#state === "waiting") this.#open();
    }, delayMs);
    const reachability = this.#options.reachability;
    if (!outOfReach || !this.#wakeAllowed || reachability === undefined) return;
    this.#unwait = reachability.onReached(() => {
      this.#unwait = undefined;
      this.#wakeAllowed = false;
      stopTimer(this.#retry);
      this.#retry = undefined;
      if (this.#state !== "waiting") return;
      // The delay reported above is cut short: say so, as the try goes now.
      this.#status({ type: "reconnecting", attempt: this.#attempt, delayMs: 0 });
      this.#open();
    });
  }

  #stopWaking(): void {
    this.#unwait?.();
    this.#unwait = undefined;
  }

  /**
   * A ping went unanswered too long (heartbeat.ts), or the upgrade itself got no answer in that
   * time (a proxy that holds WebSocket upgrades): give the socket up and reconnect.
   */
  #heartbeatTimeout(socket: WebSocketLike): void {
    this.#socket = undefined;
    const reason = socket.readyState === CONNECTING ? UPGRADE_UNANSWERED : "heartbeat timeout";
    // The relay stopped answering: no close handshake would complete either.
    terminateSocket(socket, CLOSE_CODE.normal, reason);
    this.#dropped(1006, reason);
  }

  #flush(): void {
    this.#flushScheduled = false;
    const socket = this.#socket;
    const frames = this.#outbox;
    this.#outbox = [];
    if (!socket || this.#state !== "open" || frames.length === 0) return;
    for (const message of packMessages(frames, maxFrameChars(this.limits))) {
      trySend(socket, message);
    }
  }

  #status(status: Status): void {
    const queue = this.#options.queue;
    this.#options.events.status(
      queue === undefined || status.type === "closed" ? status : { ...status, queue },
    );
  }

  /** `message` without the token (a platform's error may quote a subprotocol whole). */
  #redacted(message: string): string {
    const token = this.#options.credentials?.token;
    return token ? message.split(token).join("<token>") : message;
  }

  /** The URL without its query, so a token never lands in an error message. */
  #safeUrl(): string {
    return this.#options.url.split("?")[0] ?? "";
  }
}
