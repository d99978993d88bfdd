/**
 * The RPC contract between the relay's two Durable Object classes and the front door: what the
 * ExchangeDO asks of a QueueDO (enqueue, cancel) and what a QueueDO hands the ExchangeDO
 * (outcomes to deliver). Plain structured-cloneable data only; keep changes additive, since a
 * new Worker may talk to an old object for a while during a deploy.
 */
import type { ErrorFrame, ReplyFrame, RequestFrame, WireError } from "../../protocol/index.js";

/** Headers the front door sets on a WebSocket upgrade it forwards to a Durable Object. */
export const FORWARD_HEADERS = {
  /** The peer's identity, established by the front door (never copied from the peer). */
  identity: "X-EdgeMQ-Identity",
  /** The queue a server connection serves (QueueDO only). */
  queue: "X-EdgeMQ-Queue",
  /** The partition of that queue the connection serves (QueueDO only; queue-partitions.ts). */
  partition: "X-EdgeMQ-Partition",
  /**
   * The peer's principal as JSON `{identity, roles, queues, expiresAt}` (principal-header.ts),
   * established by the front door from the token (or dev mode).
   */
  principal: "X-EdgeMQ-Principal",
  /** Which socket a QueueDO upgrade opens: absent for a server, LINK_ROLE for a client's link. */
  role: "X-EdgeMQ-Role",
} as const;

/** FORWARD_HEADERS.role of a client's queue link (`/v1/queues/<q>/connect`). */
export const LINK_ROLE = "link";

/** One request handed by the exchange to a queue, already stamped with its sender. */
export interface EnqueueInput {
  /** The queue's name (a Durable Object does not know its own). */
  queue: string;
  /** The client's identity, from its authenticated connection. */
  from: string;
  requests: RequestFrame[];
  /**
   * Set while the client may only re-send (the exchange holds too many of its outcomes unacked,
   * outbox-limits.ts): a request the queue holds is answered as stored; any other is refused with
   * `too_many_in_flight` and this message, and nothing is stored. A queue object from before this
   * field ignores it (it stores new requests: the cap then holds only after a rollout completes).
   */
  resendsOnly?: string;
  /**
   * How the requests came: true as HTTP POSTs (the HTTP API), false over a WebSocket. An id names
   * one request per identity, so a resend on the other transport is refused `conflict`
   * (enqueue.ts). Absent (an exchange from before the field): unknown, and never a conflict.
   */
  viaHttp?: boolean;
}

/** Per request, in order: stored (with its deadline), or refused with a typed error. */
export type EnqueueOutcome =
  /** `resent`: the queue already held this client's request with this id (answered as stored). */
  | { id: string; ok: true; deadline: number; resent?: true }
  /** `retryAfterMs`: a `rate_limited` refusal's wait for a token (HTTP's `Retry-After`). */
  | { id: string; ok: false; error: WireError; retryAfterMs?: number };

/** A request's end, on its way to its client: a reply, or a typed error. */
export interface Outcome {
  /** The client identity the outcome belongs to. */
  to: string;
  /** The client's own request id. */
  frame: ReplyFrame | ErrorFrame;
  /**
   * Set by a queue in `memory` delivery mode (queue-modes.ts): the exchange keeps this outcome in
   * memory (for resume while the object lives) rather than in its outbox table, unless its memory
   * budget is spent (outbox-limits.ts): then it goes to the table like any other.
   */
  memory?: true;
  /**
   * How its request came, when the queue knows: true by HTTP (the exchange keeps the outcome for
   * the HTTP caller), false over a WebSocket (it never goes to an HTTP caller, whatever records the
   * exchange holds for the id). Absent for a request stored before queues recorded it.
   */
  viaHttp?: boolean;
}

/** Methods a QueueDO exposes over RPC to the ExchangeDO. */
export interface QueueRpc {
  enqueue(input: EnqueueInput): Promise<EnqueueOutcome[]>;
  /** Several `enqueue` inputs in one call and one transaction; answers in input order. */
  enqueueBatch(inputs: EnqueueInput[]): Promise<EnqueueOutcome[][]>;
  /** Client `from` gives up its requests `ids` in `queue` (one call for all of one message). */
  cancel(input: { queue: string; from: string; ids: string[] }): Promise<void>;
}

/** Methods an ExchangeDO exposes over RPC to QueueDOs. */
export interface ExchangeRpc {
  /** Stores the outcomes durably (until the client acks them) and sends them to their clients. */
  deliver(outcomes: Outcome[]): Promise<DeliverAnswer>;
  /** The `too_many_in_flight` message while `identity` is at its outbox cap, else undefined. */
  capStatus(identity: string): Promise<string | undefined>;
}

/** What `deliver` tells the queue back. */
export interface DeliverAnswer {
  /**
   * The recipients of these outcomes that are now at their cap on unacked outcomes, with the
   * refusal message: the queue refuses their new requests on links too (capped-identities.ts).
   */
  capped: { identity: string; message: string }[];
}

/** Name of the exchange object that holds `identity`'s connections. */
export function exchangeName(identity: string, shards: number): string {
  if (shards <= 1) return "exchange";
  return `exchange-${fnv1a(identity) % shards}`;
}

/** 32-bit FNV-1a: a stable, fast hash for choosing shards. */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
