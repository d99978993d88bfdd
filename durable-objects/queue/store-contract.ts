/**
 * What every request store offers the queue's modules (`RequestStore`), and the plain records it
 * takes and gives: SQLite's (request-store.ts) and memory's (memory-request-store.ts). No
 * platform types, so pure modules and their Node tests can use it.
 */
import type { Headers, WireBody } from "../../protocol/index.js";
import type { Outcome } from "../shared/contracts.js";
import type { StoredRequest } from "./request-row.js";

export type { StoredRequest } from "./request-row.js";

export interface NewRequest {
  clientId: string;
  from: string;
  body: WireBody;
  headers: Headers | undefined;
  deadline: number;
  now: number;
  sawServer: boolean;
  /** It came on the client's queue link: its outcome goes back down the link when it can. */
  viaLink?: boolean;
  /**
   * An HTTP POST sent it (true) or a WebSocket did (false): a request on one may not reuse the
   * id of one on the other. Undefined: not known (stored as NULL).
   */
  viaHttp?: boolean | undefined;
}

/** What a resend of a stored request is answered from: its deadline and how it was sent. */
export interface StoredKey {
  deadline: number;
  /** Sent by an HTTP POST; undefined when not known (a row from before the relay recorded it). */
  viaHttp: boolean | undefined;
}

/** An outcome due for delivery, and whether its request came on a queue link. */
export interface DueOutcome {
  rid: number;
  outcome: Outcome;
  viaLink: boolean;
  /** When it is retried if still undelivered (epoch ms). */
  deliverAt: number;
}

/** What a flush asks the store for (outcome-delivery.ts). */
export interface DueQuery {
  /** Outcomes due by this time (epoch ms). */
  now: number;
  /** Rows looked at, at most (skipped ones included). */
  limit: number;
  /**
   * Characters of stored outcomes loaded, at most (after the first): a pile of megabyte outcomes
   * must not all be in memory at once. A store that holds its outcomes in memory ignores it.
   */
  maxChars: number;
  /** Rows not to load (in a call already, or waiting after a failed one): listed in `skipped`. */
  skip: (rid: number) => boolean;
}

/** What the store found for a `DueQuery`. */
export interface DueOutcomes {
  loaded: DueOutcome[];
  /** Due rows that `skip` left out, with when each is due. */
  skipped: { rid: number; deliverAt: number }[];
  /** More may be due than this answer holds (it stopped at its limit or character budget). */
  more: boolean;
}

/** When the queue must wake next (deadlines.ts `Timers`). */
export interface StoreTimers {
  nextDeadline: number | undefined;
  nextLeaseEnd: number | undefined;
  nextDeliveryRetry: number | undefined;
  nextPurge: number | undefined;
}

/**
 * Where a queue keeps its requests, leases and undelivered outcomes: SQLite (`SqlRequestStore`,
 * the durable mode) or the object's memory (`MemoryRequestStore`, memory-request-store.ts).
 * Chosen per queue from EDGEMQ_QUEUE_MODES (queue-modes.ts); every caller sees only this.
 */
export interface RequestStore {
  readonly mode: "durable" | "memory";
  queueName(): string | undefined;
  setQueueName(name: string): void;
  /** The stored request `clientId` of client `from` (held or written), for answering a resend. */
  findStored(from: string, clientId: string): StoredKey | undefined;
  findRid(from: string, clientId: string): number | undefined;
  liveDepth(): number;
  clientLive(from: string): number;
  /**
   * Characters of request bodies and outcomes held in memory, when the store holds them all
   * there (memory mode); undefined when they are in SQLite. A memory queue refuses new requests
   * past MEMORY_QUEUE_CHARS (enqueue-rules.ts), or its object would run out of memory.
   */
  memoryChars(): number | undefined;
  /** Stores a new request; undefined (nothing stored) when its client's id is stored already. */
  insert(r: NewRequest): number | undefined;
  /** `insert` for several requests at once (one statement); the rids line up with `rs`. */
  insertAll(rs: readonly NewRequest[]): (number | undefined)[];
  get(rid: number): StoredRequest | undefined;
  queued(): { rid: number; from: string; attempt: number }[];
  leasedCounts(): Map<string, number>;
  /** Connections holding a leased request dispatched `minAttempt` times or more. */
  lesseesFromAttempt(minAttempt: number): Set<string>;
  lease(rid: number, connId: string, until: number): void;
  /** Leases queued requests `rids` to `connId` in one write, each until min(`cap`, its deadline). */
  leaseAll(rids: readonly number[], connId: string, cap: number): void;
  extend(rid: number, until: number): void;
  /**
   * Leases a request leased to a gone connection, or queued again after one lost it, to `connId`
   * until `until`, without counting a dispatch (lease-claims.ts).
   */
  transferLease(rid: number, connId: string, until: number): void;
  /** Back to the queue; `leaseConn` keeps the last lessee (a reconnected server may claim it). */
  requeue(rid: number): void;
  /** `delivered`: the client already has the outcome (acked before the finish was written). */
  finish(rid: number, frame: Outcome["frame"], now: number, delivered?: boolean): void;
  /** Ends requests whose outcomes their clients already have, in one write (nothing kept). */
  finishDelivered(rids: readonly number[]): void;
  leasedTo(connId: string): StoredRequest[];
  expired(now: number): StoredRequest[];
  leaseEnded(now: number): StoredRequest[];
  markSawServer(): void;
  dueOutcomes(query: DueQuery): DueOutcomes;
  delivered(rids: readonly number[]): void;
  retryDelivery(rids: readonly number[], at: number): void;
  /**
   * Makes every undelivered outcome of `identity`'s requests that came on a queue link due at
   * `at` (its link is gone): also those sent on it before a wake, which no memory lists.
   */
  linkOutcomesDue(identity: string, at: number): void;
  purge(now: number, dedupWindowMs: number): void;
  timers(dedupWindowMs: number): StoreTimers;
  counts(): { queued: number; leased: number };
  /** A transaction threw: forget what is held in memory beside a store SQLite rolled back. */
  rolledBack(): void;
  /**
   * Counts the writes that can make an outcome due (a finish that keeps its outcome, a retry
   * time), so outcome delivery skips its query when none happened (outcome-delivery.ts).
   */
  readonly outcomeWrites: number;
  /**
   * The earliest moment a timer may need that was written since the last call (a deadline, a
   * lease end, a retry time, a purge): Infinity when none, -Infinity when one is not known, so
   * the alarm is moved without reading the timers back (queue-alarm.ts).
   */
  takeEarliestTime(dedupWindowMs: number): number;
}

/** The record of a request just stored: queued, never dispatched. */
export function newRow(rid: number, r: NewRequest): StoredRequest {
  return {
    rid,
    clientId: r.clientId,
    from: r.from,
    body: r.body,
    headers: r.headers,
    deadline: r.deadline,
    attempt: 0,
    state: "queued",
    leaseConn: null,
    leaseUntil: null,
    sawServer: r.sawServer,
    viaLink: r.viaLink === true,
  };
}
