/**
 * The HTTP API for servers (no WebSocket needed):
 *   POST /v1/queues/:queue/take[?wait=ms][&lease=ms]
 *     200 with the next request's body and Content-Type, and EdgeMQ-Request-Id (the relay id to
 *     reply to), EdgeMQ-From, EdgeMQ-Deadline, EdgeMQ-Attempt; 204 when none came within `wait`.
 *     The request is leased to this identity's HTTP connection for leaseMs (as a dispatch is), or
 *     for the `lease` asked, granted within 1,000 ms to leaseMs (EdgeMQ-Lease-Ms tells it).
 *     A take whose caller disconnects stops waiting; a request handed to it as it left goes
 *     back to the queue (abandonTake, when the runtime reports the disconnect).
 *   POST /v1/queues/:queue/replies/:id
 *     body = the reply (its Content-Type travels). 204 accepted; 404 not dispatched to this
 *     server, 409 already ended (answered or cancelled), 410 deadline passed.
 *   POST /v1/queues/:queue/failures/:id
 *     body = the failure message (text). The client gets server_error with it; same rules as
 *     a reply.
 *   POST /v1/queues/:queue/leases/:id[?lease=ms]
 *     Extends the lease by leaseMs, or the `lease` asked as on take (never past the deadline);
 *     same rules as a reply. 204 with EdgeMQ-Lease-Ms.
 *   POST /v1/queues/:queue/leases[?lease=ms], body {"ids": [...]}
 *     The same for several ids at once: 200 {"leases": [...]}, each id's status in order.
 *   POST /v1/queues/:queue/presence[?partition=p]
 *     The server still serves the queue while it is busy: it counts as connected (for
 *     `no_responders` and `failFast`) for 15 s more, as after a take. Without `?partition=` on a
 *     partitioned queue, on every partition. 204 with EdgeMQ-Partitions.
 *   DELETE /v1/queues/:queue/takes[?partition=p]
 *     The server stops serving: its waiting takes end and it no longer counts as connected.
 * All go to the queue's QueueDO (take / httpReply / httpFail / httpExtend / httpExtendMany /
 * httpPresence / httpLeave); see
 * durable-objects/queue/http-takers.ts and http-answers.ts. On a partitioned queue a take answers
 * EdgeMQ-Partition (and every take EdgeMQ-Partitions) and an id `p<n>.<id>` that names it, which
 * routes the replies, failures and leases (partition-ids.ts, http-take.ts, docs/scaling.md).
 */
import type { Context } from "hono";
import {
  type HttpExtendAnswer,
  MAX_LEASE_IDS,
} from "../../durable-objects/shared/http-contracts.js";
import { readSettings } from "../../durable-objects/shared/settings.js";
import { waitWithinToken } from "../../durable-objects/shared/token-expiry.js";
import {
  EdgeMQError,
  ERROR_CODE,
  HTTP_API_HEADERS,
  HTTP_STATUS,
  type WireError,
} from "../../protocol/index.js";
import type { Env } from "../env.js";
import { wireBodyFromHttp } from "../http-body.js";
import { readBoundedBody } from "../http-body-reader.js";
import {
  readFrameHeaders,
  readLease,
  readLeaseIds,
  readQueue,
  readRequestId,
  readWait,
} from "../http-params.js";
import { dispatchResponse, noContent, refusalResponse } from "../http-responses.js";
import { establishPrincipal, requireQueue, requireRole } from "../identity.js";
import { answeredId, takenId } from "../partition-ids.js";
import { partitionStub, partitionsOf, requirePartition } from "../partitions.js";
import { takeFromPartitions } from "./http-take.js";

type HttpContext = Context<{ Bindings: Env }>;

export async function take(c: HttpContext): Promise<Response> {
  const queue = readQueue(c.req.param("queue"));
  const principal = await establishPrincipal(c.req.raw, c.env);
  requireRole(principal, "server");
  requireQueue(principal, queue);
  // A take ends by the time its token no longer holds: a request handed to it later could be
  // neither answered nor extended, and would wait out its lease.
  const waitMs = waitWithinToken(readWait(c.req.query("wait")), principal.expiresAt, Date.now());
  const { limits } = readSettings(c.env);
  const leaseMs = readLease(c.req.query("lease"), limits.leaseMs);
  const partitions = partitionsOf(c.env, queue);
  const chosen = requirePartition(c.req.query("partition"), partitions);
  const identity = principal.identity;
  const input = { queue, identity, waitMs, takeId: crypto.randomUUID(), ...leaseOf(leaseMs) };
  const abandon = () => {
    const touched = chosen === undefined ? [...Array(partitions).keys()] : [chosen];
    const calls = touched.map((p) => partitionStub(c.env, queue, p).abandonTake(input));
    c.executionCtx.waitUntil(Promise.allSettled(calls));
  };
  const signal = c.req.raw.signal;
  signal.addEventListener("abort", abandon, { once: true });
  let taken: Awaited<ReturnType<typeof takeFromPartitions>>;
  try {
    taken = await takeFromPartitions(c.env, input, partitions, chosen, signal);
  } finally {
    signal.removeEventListener("abort", abandon);
  }
  const { answer, partition } = taken;
  if (!answer.ok) return refusalResponse(answer.error);
  const placement = {
    [HTTP_API_HEADERS.partition]: String(partition),
    [HTTP_API_HEADERS.partitions]: String(partitions),
  };
  if (answer.dispatch === null) return noContent(placement);
  const id = takenId(answer.dispatch.id, partition, partitions);
  const response = dispatchResponse({ ...answer.dispatch, id });
  // The lease never runs past the deadline (lease-rules.ts): say how long this one runs.
  const leaseEnd = Math.min(Date.now() + (leaseMs ?? limits.leaseMs), answer.dispatch.deadline);
  response.headers.set(HTTP_API_HEADERS.leaseMs, String(leaseMsLeft(leaseEnd)));
  for (const [name, value] of Object.entries(placement)) response.headers.set(name, value);
  return response;
}

/**
 * A server's call about one dispatch: its queue, the id as the server knows it (`named`, for
 * answers), the partition's own id, the identity and the partition object (partition-ids.ts).
 */
async function dispatchCall(c: HttpContext) {
  const queue = readQueue(c.req.param("queue"));
  const named = readRequestId(c.req.param("id"));
  const principal = await establishPrincipal(c.req.raw, c.env);
  requireRole(principal, "server");
  requireQueue(principal, queue);
  const { id, partition } = answeredId(named, c.req.query("partition"), partitionsOf(c.env, queue));
  const stub = partitionStub(c.env, queue, partition);
  return { queue, named, id, identity: principal.identity, stub };
}

export async function postReply(c: HttpContext): Promise<Response> {
  const { queue, named, id, identity, stub } = await dispatchCall(c);
  const { limits } = readSettings(c.env);
  const bytes = await readBoundedBody(c.req.raw, limits.maxBodyBytes);
  const body = wireBodyFromHttp(c.req.header("Content-Type") ?? null, bytes);
  const headers = readFrameHeaders(c.req.header(HTTP_API_HEADERS.headers), limits);
  const input =
    headers === undefined ? { queue, identity, id, body } : { queue, identity, id, body, headers };
  const answer = await stub.httpReply(input);
  return answer.ok
    ? noContent({ [HTTP_API_HEADERS.requestId]: named })
    : refusalResponse(answer.error, named);
}

/** Most bytes of a failure message read (the relay keeps its first 4096 characters). */
const MAX_FAILURE_BYTES = 16 * 1024;

const UTF8 = new TextDecoder("utf-8");

export async function postFailure(c: HttpContext): Promise<Response> {
  const { queue, named, id, identity, stub } = await dispatchCall(c);
  const message = UTF8.decode(await readBoundedBody(c.req.raw, MAX_FAILURE_BYTES));
  const answer = await stub.httpFail({ queue, identity, id, message });
  return answer.ok
    ? noContent({ [HTTP_API_HEADERS.requestId]: named })
    : refusalResponse(answer.error, named);
}

/** `?lease=` of a take or lease call, granted (http-params.ts), as an RPC input's `leaseMs`. */
function leaseOf(leaseMs: number | undefined): { leaseMs?: number } {
  return leaseMs === undefined ? {} : { leaseMs };
}

/** `?lease=` of a lease call (the lease asked for), granted within the relay's leaseMs. */
function askedLease(c: HttpContext): { leaseMs?: number } {
  return leaseOf(readLease(c.req.query("lease"), readSettings(c.env).limits.leaseMs));
}

export async function postLease(c: HttpContext): Promise<Response> {
  const { queue, named, id, identity, stub } = await dispatchCall(c);
  const answer = await stub.httpExtend({ queue, identity, id, ...askedLease(c) });
  if (!answer.ok) return refusalResponse(answer.error, named);
  return noContent({
    [HTTP_API_HEADERS.requestId]: named,
    [HTTP_API_HEADERS.leaseMs]: String(leaseMsLeft(answer.leaseUntil)),
  });
}

/** Milliseconds until a lease ending at `until` (epoch ms) runs out; at least 1. */
function leaseMsLeft(until: number): number {
  return Math.max(1, until - Date.now());
}

/** Most bytes of a lease call's body: 1,000 ids of up to 128 characters, quoted. */
const MAX_LEASE_BODY_BYTES = 256 * 1024;

/** One id's answer in a lease call for several: as the one-id route would answer it. */
type LeaseEntry =
  | { id: string; status: 204; leaseMs: number }
  | { id: string; status: number; error: WireError };

/**
 * POST /v1/queues/:queue/leases, body `{"ids": [...]}`: extends several leases in one call (one
 * call per partition they are on), answering 200 `{"leases": [...]}` with each id's status as
 * its own route would give it, in the order of the ids.
 */
export async function postLeases(c: HttpContext): Promise<Response> {
  const queue = readQueue(c.req.param("queue"));
  const principal = await establishPrincipal(c.req.raw, c.env);
  requireRole(principal, "server");
  requireQueue(principal, queue);
  const asked = askedLease(c);
  const text = UTF8.decode(await readBoundedBody(c.req.raw, MAX_LEASE_BODY_BYTES));
  const named = readLeaseIds(text, MAX_LEASE_IDS);
  const { groups, entries } = groupLeaseIds(
    named,
    c.req.query("partition"),
    partitionsOf(c.env, queue),
  );
  const identity = principal.identity;
  const answered = await Promise.all(
    [...groups].map(async ([partition, items]) => {
      const ids = items.map((item) => item.id);
      const stub = partitionStub(c.env, queue, partition);
      return { items, answer: await stub.httpExtendMany({ queue, identity, ids, ...asked }) };
    }),
  );
  for (const { items, answer } of answered) {
    if (!answer.ok) return refusalResponse(answer.error);
    for (const [i, item] of items.entries()) {
      entries.set(item.named, leaseEntry(item.named, answer.leases[i]));
    }
  }
  return c.json({ leases: named.map((name) => entries.get(name)) }, 200);
}

/**
 * A lease call's ids by the partition each names, and an entry already for each id its one-id
 * route would refuse for its partition (400: past K, as a partition lowered across a restart
 * leaves it, or not matching `?partition=`): that id is refused alone, as over its own route, so
 * a server hears its lease is gone while the other ids are renewed.
 */
function groupLeaseIds(named: readonly string[], query: string | undefined, partitions: number) {
  const groups = new Map<number, { named: string; id: string }[]>();
  const entries = new Map<string, LeaseEntry>();
  for (const name of named) {
    let answered: { id: string; partition: number };
    try {
      answered = answeredId(name, query, partitions);
    } catch (error) {
      if (!(error instanceof EdgeMQError)) throw error;
      const refusal = { code: error.code, message: error.message };
      entries.set(name, { id: name, status: HTTP_STATUS[error.code], error: refusal });
      continue;
    }
    const { id, partition } = answered;
    groups.set(partition, [...(groups.get(partition) ?? []), { named: name, id }]);
  }
  return { groups, entries };
}

function leaseEntry(id: string, answer: HttpExtendAnswer | undefined): LeaseEntry {
  if (answer === undefined) {
    const error = { code: ERROR_CODE.internal, message: "no answer for this id" };
    return { id, status: HTTP_STATUS[error.code], error };
  }
  if (answer.ok) return { id, status: 204, leaseMs: leaseMsLeft(answer.leaseUntil) };
  return { id, status: HTTP_STATUS[answer.error.code], error: answer.error };
}

export async function postPresence(c: HttpContext): Promise<Response> {
  return toPartitions(c, (stub, input) => stub.httpPresence(input));
}

/**
 * DELETE /v1/queues/:queue/takes[?partition=p]: the caller stops serving the queue (the SDK's
 * HTTP service, closing). Its takes still waiting end at once, so no request is handed to a take
 * whose caller left (under `wrangler dev` the relay never hears such a caller go), and it no
 * longer counts as connected. 204 with EdgeMQ-Partitions.
 */
export async function deleteTakes(c: HttpContext): Promise<Response> {
  return toPartitions(c, (stub, input) => stub.httpLeave(input));
}

/** Sends a server's call to the partition `?partition=` names, else to every partition. */
async function toPartitions(
  c: HttpContext,
  send: (
    stub: ReturnType<typeof partitionStub>,
    input: { queue: string; identity: string },
  ) => Promise<{ ok: true } | { ok: false; error: WireError }>,
): Promise<Response> {
  const queue = readQueue(c.req.param("queue"));
  const principal = await establishPrincipal(c.req.raw, c.env);
  requireRole(principal, "server");
  requireQueue(principal, queue);
  const partitions = partitionsOf(c.env, queue);
  const chosen = requirePartition(c.req.query("partition"), partitions);
  const targets = chosen === undefined ? [...Array(partitions).keys()] : [chosen];
  const input = { queue, identity: principal.identity };
  const answers = await Promise.all(
    targets.map((p) => send(partitionStub(c.env, queue, p), input)),
  );
  for (const answer of answers) if (!answer.ok) return refusalResponse(answer.error);
  return noContent({ [HTTP_API_HEADERS.partitions]: String(partitions) });
}
