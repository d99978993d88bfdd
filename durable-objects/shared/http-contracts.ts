/**
 * The RPC contract behind the HTTP API (src/routes/http-*.ts): what the front door asks of the
 * ExchangeDO for HTTP clients (submit a request, await its outcome, poll the outcomes of several)
 * and of a QueueDO for HTTP servers (take the next request, reply to one). Plain
 * structured-cloneable data only; additive, like contracts.ts. An HTTP server holds its leases as
 * the virtual connection `http:<identity>`.
 */
import type {
  DispatchFrame,
  ErrorFrame,
  Headers,
  ReplyFrame,
  RequestFrame,
  WireBody,
  WireError,
} from "../../protocol/index.js";
import type { EnqueueOutcome } from "./contracts.js";

/**
 * How long past its deadline the relay waits for an HTTP request's outcome (the queue's alarm
 * ends it at the deadline; delivery takes a moment). A request still pending after that lost its
 * outcome (a memory queue's restart) or is very late: a synchronous POST and a long-poll answer
 * `504 timeout` then, and no wait runs past it.
 */
export const OUTCOME_GRACE_MS = 5_000;

/** An HTTP client's request, with a relay-chosen id, for `queue`. */
export interface HttpSubmitInput {
  identity: string;
  queue: string;
  request: RequestFrame;
  /**
   * When the front door received the POST (epoch ms): the request's timeout counts from then,
   * not from when this object got to it (requestFromReceipt). Absent: from now.
   */
  receivedAt?: number;
  /**
   * The client's outcome poller (`EdgeMQ-Poller`, a request id's rule): the outcome then also
   * comes from `pollOutcomes` with this tag. Recorded with a fresh request only; a retried POST of
   * a known id keeps the tag its first POST gave.
   */
  poller?: string;
}

/** Stored (with its deadline), or refused with a typed error; as for WebSocket requests. */
export type HttpSubmitAnswer = EnqueueOutcome;

export interface HttpAwaitInput {
  identity: string;
  id: string;
  /** How long to wait for the outcome if it has not arrived (0: answer at once). */
  waitMs: number;
}

/** The outcome of an HTTP client's request, or that it is still pending, or unknown. */
export type HttpAwaitAnswer =
  | { state: "done"; frame: ReplyFrame | ErrorFrame; deadline: number }
  | { state: "pending"; deadline: number }
  | { state: "unknown" };

/**
 * Longest one `pollOutcomes` call waits, whatever it asks (the front door allows up to this:
 * `wait` of `GET /v1/outcomes`, src/http-params.ts MAX_WAIT_MS).
 */
export const MAX_POLL_WAIT_MS = 60_000;

/** `GET /v1/outcomes`: outcomes of `identity`'s requests posted with `poller`, after a cursor. */
export interface HttpPollInput {
  identity: string;
  /** The tag the requests were posted with (`EdgeMQ-Poller`). */
  poller: string;
  /** Outcomes with a sequence number above this come (0: from the first). */
  after: number;
  /** How long to wait for one when none is there (0: answer at once), at most MAX_POLL_WAIT_MS. */
  waitMs: number;
}

/**
 * Stored outcome frames (each an encoded `reply` or `error` with its request's id), in the order
 * they were claimed, within the answer's budget (protocol/outcomes-answer.ts), and the cursor to
 * ask after next: the last one's sequence number, or the one asked with when none came.
 */
export interface HttpPollAnswer {
  frames: string[];
  after: number;
  /**
   * The cursor is past every outcome number the exchange gave (no answer gave it): nothing was
   * read, and the front door refuses the poll with `bad_request`.
   */
  ahead?: true;
}

export interface HttpTakeInput {
  queue: string;
  identity: string;
  /** How long to wait for a request when none is queued (0: answer at once). */
  waitMs: number;
  /** Names this take, so `abandonTake` can end it if its HTTP caller goes away. */
  takeId?: string;
  /** The lease the server asked for (`?lease=`), granted within grantedLeaseMs; else leaseMs. */
  leaseMs?: number;
}

/** The HTTP caller of take `takeId` went away (the front door saw its request aborted). */
export interface HttpAbandonInput {
  queue: string;
  identity: string;
  takeId: string;
}

/** The leased request (null when none came within the wait), or a typed refusal. */
export type HttpTakeAnswer =
  | { ok: true; dispatch: DispatchFrame | null }
  | { ok: false; error: WireError };

export interface HttpReplyInput {
  queue: string;
  identity: string;
  /** The relay id from the take (`EdgeMQ-Request-Id`). */
  id: string;
  body: WireBody;
  /** The reply's own headers (`EdgeMQ-Headers`), when it has any. */
  headers?: Headers;
}

export type HttpReplyAnswer = { ok: true } | { ok: false; error: WireError };

/** An HTTP server fails a request it holds: the client gets `server_error` with `message`. */
export interface HttpFailInput {
  queue: string;
  identity: string;
  id: string;
  message: string;
}

/** An HTTP server keeps a request it holds: the lease runs leaseMs more (to the deadline). */
export interface HttpExtendInput {
  queue: string;
  identity: string;
  id: string;
  /** The lease the server asked for (`?lease=`), granted within grantedLeaseMs; else leaseMs. */
  leaseMs?: number;
}

/** The new end of the lease (epoch ms), or the refusal (as for a reply). */
export type HttpExtendAnswer = { ok: true; leaseUntil: number } | { ok: false; error: WireError };

/** Most ids one lease call renews: as many as a handler's slots (`maxConcurrency`) allow. */
export const MAX_LEASE_IDS = 1_000;

/** An HTTP server extends the leases of several requests it holds, in one call. */
export interface HttpExtendManyInput {
  queue: string;
  identity: string;
  ids: string[];
  /** The lease the server asked for (`?lease=`), granted within grantedLeaseMs; else leaseMs. */
  leaseMs?: number;
}

/** Each id's answer, in the order of the ids; or the refusal of the whole call. */
export type HttpExtendManyAnswer =
  | { ok: true; leases: HttpExtendAnswer[] }
  | { ok: false; error: WireError };

/**
 * An HTTP server busy with what it holds says it still serves the queue: it counts as connected
 * for HTTP_SERVER_PRESENCE_MS more, as after a take (the SDK sends it for partitions its take
 * loops cannot poll in time).
 */
export interface HttpPresenceInput {
  queue: string;
  identity: string;
}

export type HttpPresenceAnswer = { ok: true } | { ok: false; error: WireError };

/** An HTTP client cancels its request `id` (`DELETE /v1/queues/{queue}/requests/{id}`). */
export interface HttpCancelInput {
  queue: string;
  from: string;
  id: string;
}

/** Done, or refused (`rate_limited`: a cancel takes a token, as over WebSocket). */
export type HttpCancelAnswer =
  | { ok: true }
  | { ok: false; error: WireError; retryAfterMs?: number };

/** Methods an ExchangeDO exposes to the front door for HTTP clients. */
export interface HttpExchangeRpc {
  submit(input: HttpSubmitInput): Promise<HttpSubmitAnswer>;
  awaitOutcome(input: HttpAwaitInput): Promise<HttpAwaitAnswer>;
  /** The outcomes of one poller's requests after a cursor, waiting up to `waitMs` for one. */
  pollOutcomes(input: HttpPollInput): Promise<HttpPollAnswer>;
  /** The queue of `identity`'s HTTP request `id` while the exchange keeps it, else undefined. */
  httpRequestQueue(input: { identity: string; id: string }): Promise<string | undefined>;
}

/** Methods a QueueDO exposes to the front door for HTTP servers. */
export interface HttpQueueRpc {
  take(input: HttpTakeInput): Promise<HttpTakeAnswer>;
  abandonTake(input: HttpAbandonInput): Promise<void>;
  httpReply(input: HttpReplyInput): Promise<HttpReplyAnswer>;
  httpFail(input: HttpFailInput): Promise<HttpReplyAnswer>;
  httpExtend(input: HttpExtendInput): Promise<HttpExtendAnswer>;
  httpExtendMany(input: HttpExtendManyInput): Promise<HttpExtendManyAnswer>;
  httpPresence(input: HttpPresenceInput): Promise<HttpPresenceAnswer>;
  httpLeave(input: HttpPresenceInput): Promise<HttpPresenceAnswer>;
}

/**
 * The shortest lease an HTTP server may ask for (`?lease=` of take and the lease routes): a
 * shorter ask is granted this, so a server cannot make the relay requeue and redispatch its
 * requests every few milliseconds.
 */
export const MIN_ASKED_LEASE_MS = 1_000;

/**
 * The lease length (ms) granted to an HTTP server that asked for `asked` (`?lease=`; undefined:
 * it did not ask), under the relay's `leaseMs`: within [MIN_ASKED_LEASE_MS, leaseMs] (leaseMs
 * alone when that is shorter than the floor), or leaseMs when it did not ask. The front door
 * (for EdgeMQ-Lease-Ms) and the queue object (for the lease itself) both apply it.
 */
export function grantedLeaseMs(asked: number | undefined, leaseMs: number): number {
  if (asked === undefined) return leaseMs;
  return Math.min(leaseMs, Math.max(asked, MIN_ASKED_LEASE_MS));
}

/** Leases held by HTTP servers name this virtual connection instead of a socket's connId. */
export const HTTP_CONN_PREFIX = "http:";

export function httpConnId(identity: string): string {
  return `${HTTP_CONN_PREFIX}${identity}`;
}

export function isHttpConn(connId: string): boolean {
  return connId.startsWith(HTTP_CONN_PREFIX);
}

/**
 * An HTTP server counts as connected to its queue (for `no_responders` and `failFast`) while a
 * take waits, and for this long after its last take, reply, lease extension or presence call.
 */
export const HTTP_SERVER_PRESENCE_MS = 15_000;
