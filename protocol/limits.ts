/**
 * Protocol constants and the relay's default limits: the single source for every number both
 * sides need. The relay may lower or raise the limits per deployment (see relay settings); it
 * announces the values in force in its `welcome` frame.
 */

/** Version of the wire protocol; carried in `welcome`. Additive changes keep the number. */
export const PROTOCOL_VERSION = 1;

/**
 * Queue names: 1 to 128 of `A-Z a-z 0-9 . _ -`, but not `.` or `..`: a URL resolves those as
 * dot segments, so `/v1/queues/../serve` would leave the queue's path.
 */
export const QUEUE_NAME_PATTERN = /^(?!\.\.?$)[A-Za-z0-9._-]{1,128}$/;

/** Identities: 1 to 128 printable ASCII characters, no spaces or slashes. */
export const IDENTITY_PATTERN = /^[A-Za-z0-9._:@+=-]{1,128}$/;

/** Request ids chosen by clients: 1 to 128 of the same characters as identities. */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:@+=-]{1,128}$/;

/** The patterns above as refusals say them, so a peer learns the rule, not only the fault. */
export const QUEUE_NAME_RULE = "1-128 of A-Z a-z 0-9 . _ - (and not . or ..)";
export const IDENTITY_RULE = "1-128 of A-Z a-z 0-9 . _ : @ + = -";
export const REQUEST_ID_RULE = IDENTITY_RULE;

export const DEFAULT_LIMITS = {
  /** Largest request or reply body, in bytes (decoded). */
  maxBodyBytes: 1024 * 1024,
  /** Deadline used when a request gives none. */
  defaultTimeoutMs: 30_000,
  /** Longest deadline a request may ask for. */
  maxTimeoutMs: 5 * 60_000,
  /** Most requests a queue holds (waiting or in hand) before `queue_full`. */
  maxQueueDepth: 10_000,
  /** Most unanswered requests one client identity may have in one queue. */
  maxInFlightPerClient: 1_000,
  /** Dispatches of one request before it fails with `server_error`. */
  maxAttempts: 3,
  /** Most requests one server may hold at once, whatever it asks for. */
  maxConcurrency: 1_000,
  /** Most headers on one request or reply, and their total size. */
  maxHeaders: 32,
  maxHeaderBytes: 8 * 1024,
  /** How long a lease lasts before an unanswered request is redelivered. */
  leaseMs: 30_000,
  /** How long a finished request's id is remembered, so a resend is not run twice. */
  dedupWindowMs: 5 * 60_000,
} as const;

export type Limits = { -readonly [K in keyof typeof DEFAULT_LIMITS]: number };

/**
 * Whether dispatch number `attempt` (1 for the first) of a request runs alone: its last allowed
 * one (`maxAttempts`) after an earlier one lost its lease, so possibly a poison request. The relay
 * gives it to a server connection holding nothing else (durable-objects/queue/dispatcher.ts), and
 * the SDK runs no other handler of its peer beside it (client/lone-gate.ts).
 */
export function isLoneDispatch(attempt: number, maxAttempts: number): boolean {
  return attempt >= 2 && attempt >= maxAttempts;
}

/** Largest WebSocket message the relay reads: a max body in base64 plus room for the frame. */
export function maxFrameChars(limits: Pick<Limits, "maxBodyBytes" | "maxHeaderBytes">): number {
  return Math.ceil((limits.maxBodyBytes * 4) / 3) + limits.maxHeaderBytes + 64 * 1024;
}

/** The refusal of a message over the frame size, naming the size. */
export function overFrameMessage(limits: Pick<Limits, "maxBodyBytes" | "maxHeaderBytes">): string {
  return `message is over the relay's frame size (${maxFrameChars(limits)} characters)`;
}

/** Keep-alive text messages, answered by the relay without waking its Durable Objects. */
export const PING_MESSAGE = "ping";
export const PONG_MESSAGE = "pong";
/**
 * How often the SDK pings an idle socket, and for how many intervals an unanswered ping may wait
 * before the SDK calls the connection dead (30-45 s when idle).
 */
export const HEARTBEAT_INTERVAL_MS = 15_000;
export const HEARTBEAT_MISSES = 2;
/**
 * How often the SDK pings the client sockets of a peer with unfinished requests, and every server
 * socket (a dispatch may go into it at any moment), so that a socket gone half-open is found in
 * 10-15 s: inside the default lease and deadline (30 s), where the idle interval would find it
 * only after them. Divides HEARTBEAT_INTERVAL_MS.
 */
export const HEARTBEAT_BUSY_INTERVAL_MS = 5_000;

/** Named WebSocket close codes (4000-4999 are application codes). */
export const CLOSE_CODE = {
  /** Normal close by either side. */
  normal: 1000,
  /** The relay is going away (deploy, restart). Reconnect. */
  goingAway: 1001,
  /** A newer connection of the same identity took over. Do not reconnect. */
  replaced: 4001,
  /** The connection failed authentication. Do not reconnect with the same token. */
  unauthorized: 4401,
  /** Reserved: this relay refuses a forbidden upgrade with HTTP 403 before any socket opens. */
  forbidden: 4403,
  /** Reserved: this relay refuses a malformed upgrade with HTTP 400 before any socket opens. */
  badRequest: 4400,
  /** The relay lost the connection's state (an internal error). Reconnect. */
  lostState: 1011,
  /**
   * The peer sent more frames the relay could not read (malformed, of no known type, over the
   * frame size) than it allows (UNREADABLE_FRAMES). Fix the peer; the SDK reconnects.
   */
  policy: 1008,
} as const;

/**
 * Frames the relay could not read that one socket may send before it is closed with 1008
 * (`policy`): `burst` at once, and `perSecond` more each second. A correct peer sends none; each
 * costs the relay a decode and an `error` frame it must buffer for a peer that need not read.
 */
export const UNREADABLE_FRAMES = { burst: 100, perSecond: 1 } as const;

/** Paths of the front door. */
export const PATHS = {
  /** WebSocket for a client: requests out, replies in (the global exchange). */
  connect: "/v1/connect",
  /** WebSocket for a server of queue `:queue`. */
  serve: (queue: string) => `/v1/queues/${encodeURIComponent(queue)}/serve`,
  /**
   * WebSocket for a client of queue `:queue` only (a "queue link"): its requests to that queue
   * out, their outcomes in, straight from the queue partition that holds them (no hop through
   * the exchange). Outcomes that cannot go this way still reach the client through `connect`.
   */
  queueConnect: (queue: string) => `/v1/queues/${encodeURIComponent(queue)}/connect`,
  health: "/healthz",
} as const;

/** Headers the front door sets (after removing any copy a peer sent). */
export const HEADERS = {
  /** Dev mode: the identity a peer declares. */
  identity: "EdgeMQ-Identity",
} as const;

/**
 * WebSocket subprotocols. A peer with a token offers `edgemq` and `edgemq.token.<jwt>`: browsers
 * cannot set an Authorization header on a WebSocket, and a subprotocol, unlike a query parameter,
 * does not end up in access logs. The relay answers with `edgemq` and never echoes the token.
 */
export const SUBPROTOCOL = "edgemq";
export const TOKEN_SUBPROTOCOL_PREFIX = "edgemq.token.";
