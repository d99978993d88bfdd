/**
 * Pure bounds on what the exchange holds for one client identity: the outcomes it keeps until the
 * client acks them (both outboxes together) and the outcomes of its HTTP requests it has not read
 * yet (http-requests.ts), under one cap, and how many of those bytes may sit in the object's
 * memory. An identity at its cap gets its new requests refused with `too_many_in_flight` (the
 * outcomes of requests already admitted are always kept); memory-mode outcomes past the memory
 * budget go to the SQLite outbox instead. Sizes count the frame's JSON text in UTF-16 code units
 * (`string.length`: bytes, for the ASCII JSON and base64 that outcomes mostly are). Also how long
 * a read HTTP outcome is kept (READ_KEEP_MS) and when expired rows are purged (purgeAt). Used by
 * exchange-do.ts, memory-outbox.ts, http-requests.ts and http-clients.ts.
 */
import { MAX_BATCH } from "../../protocol/index.js";

/**
 * Most unacked (or, over HTTP, unread) outcomes the exchange holds for one identity before
 * refusing its new requests: ten times `maxInFlightPerClient` (1,000), and 100 s at the default
 * rate limit (100/s). A client that acks (the SDK acks every outcome at once, and reads each HTTP
 * outcome as it comes) holds only what is on its way, a round trip's worth; a client that never
 * acks or reads would otherwise make the exchange keep 30,000 (5 minutes of its rate) for the
 * resume window, or over HTTP, 60,000 (its longest deadline plus 5 minutes).
 */
export const MAX_HELD_OUTCOMES = 10_000;

/**
 * Most bytes of unacked outcomes held for one identity: 32 MiB, 1,000 in-flight outcomes of
 * 32 KiB each (or 32 of the largest, 1 MiB). 10,000 outcomes of up to 1 MiB would be 10 GB, all
 * of an object's storage.
 */
export const MAX_HELD_BYTES = 32 * 1024 * 1024;

/**
 * Memory-mode outcomes one identity may keep in the object's memory (MemoryOutbox): 4 MiB, a few
 * seconds of a busy client's outcomes in flight. Past it, they go to the SQLite outbox.
 */
export const MEMORY_BYTES_PER_IDENTITY = 4 * 1024 * 1024;

/**
 * Memory-mode outcomes of all identities together in the object's memory: 16 MiB (32 MB at worst,
 * for two-byte strings), well inside the isolate's 128 MB whatever the number of clients.
 */
export const MEMORY_BYTES_TOTAL = 16 * 1024 * 1024;

/** What a kept outcome costs beyond its text: its Map entry, id and record (a generous guess). */
export const MEMORY_ENTRY_OVERHEAD = 256;

/** Outcomes a reconnecting client gets per replay page: one batch, what a queue lets it have in flight. */
export const REPLAY_PAGE_FRAMES = MAX_BATCH;

/** Bytes per replay page: what one page costs the object's memory while it is read and sent. */
export const REPLAY_PAGE_BYTES = 8 * 1024 * 1024;

/** Outcomes held for one identity, and their size. */
export interface Held {
  count: number;
  bytes: number;
}

export const NOTHING_HELD: Held = { count: 0, bytes: 0 };

export function addHeld(a: Held, b: Held): Held {
  return { count: a.count + b.count, bytes: a.bytes + b.bytes };
}

/** True when the identity may not send new requests until it acks (or reads) some outcomes. */
export function atCap(held: Held): boolean {
  return held.count >= MAX_HELD_OUTCOMES || held.bytes >= MAX_HELD_BYTES;
}

/** How an HTTP client reads its outcomes, which releases them (docs/http-api.md). */
const HOW_TO_READ = "GET /v1/outcomes?poller=<tag>&after=<your cursor>, or GET /v1/requests/{id}";

/**
 * The message of the `too_many_in_flight` refusal of a request from an identity at its cap:
 * `unacked` wait for its WebSocket client's acks, `unread` are its HTTP requests' outcomes it has
 * not read; it says how to release each.
 */
export function capMessage(unacked: Held, unread: Held = NOTHING_HELD): string {
  const { count, bytes } = addHeld(unacked, unread);
  const limit = `(limit ${MAX_HELD_OUTCOMES} outcomes or ${MAX_HELD_BYTES} bytes)`;
  if (unread.count === 0) {
    return `${count} outcomes (${bytes} bytes) wait for this client's acknowledgement; new requests are refused until it acks them ${limit}`;
  }
  if (unacked.count === 0) {
    return `${count} outcomes (${bytes} bytes) of this client's HTTP requests are unread; new requests are refused until it reads them (${HOW_TO_READ}) ${limit}`;
  }
  return `${count} outcomes (${bytes} bytes) wait for this client: ${unacked.count} for its acknowledgement, ${unread.count} of its HTTP requests unread; new requests are refused until it acks or reads them (${HOW_TO_READ}) ${limit}`;
}

/**
 * How long an HTTP request's outcome is kept after it was first read (a 200 of its synchronous
 * POST or of GET /v1/requests/{id}, or a GET /v1/outcomes answer that held it), when its deadline
 * plus the resume window does not end it sooner: read, it no longer counts toward the cap, and 60 s
 * is enough for what may read it again, a client's retry after the answer was lost on its way
 * (a POST or GET of the same id, or a poll with the same `after`). Past it the id is unknown.
 */
export const READ_KEEP_MS = 60_000;

/** What keeping an outcome of `textLength` in memory costs the memory budgets. */
export function memoryCost(textLength: number): number {
  return textLength + MEMORY_ENTRY_OVERHEAD;
}

/**
 * Whether an outcome costing `cost` fits in memory, given what the identity (`identityBytes`)
 * and everyone (`totalBytes`) keep there already.
 */
export function fitsInMemory(identityBytes: number, totalBytes: number, cost: number): boolean {
  return (
    identityBytes + cost <= MEMORY_BYTES_PER_IDENTITY && totalBytes + cost <= MEMORY_BYTES_TOTAL
  );
}

/**
 * Purges (outbox rows past the resume window, HTTP requests past theirs) run on the next whole
 * minute after a row expires, not at each row's own time: one alarm then purges many rows, where
 * an alarm per HTTP request would wake the object once per request. An HTTP request's row is read
 * as gone from its expiry (http-requests.ts checks `expires`); an identity's expired outbox rows
 * are deleted when it connects (before its replay) and when its cap would refuse it
 * (exchange-do.ts expireOutcomes), so neither waits for that minute.
 */
export const PURGE_STEP_MS = 60_000;

/** When to purge a row that expires at `expiry` (undefined: nothing to purge). */
export function purgeAt(expiry: number): number;
export function purgeAt(expiry: number | undefined): number | undefined;
export function purgeAt(expiry: number | undefined): number | undefined {
  return expiry === undefined ? undefined : Math.ceil(expiry / PURGE_STEP_MS) * PURGE_STEP_MS;
}
