/**
 * The HTTP API's `failures` and `leases` routes, as a QueueDO applies them: an HTTP server fails a
 * request it holds (the client gets `server_error` with the message, as for a WebSocket `fail`
 * frame) or extends its lease by leaseMs, or the shorter lease it asked for (`?lease=`), never
 * past the deadline, as `extend` does, one id or several. Both count
 * only from the lessee (the virtual connection `http:<identity>`), once, before the deadline
 * (lease-rules.ts); refusals map to the HTTP statuses of `replies` (httpRefusal). Inside the
 * caller's transaction; used by http-server-rpc.ts.
 */
import {
  cutFailMessage,
  ERROR_CODE,
  isRequestId,
  type Limits,
  type WireError,
} from "../../protocol/index.js";
import {
  grantedLeaseMs,
  type HttpExtendAnswer,
  type HttpReplyAnswer,
  httpConnId,
  MAX_LEASE_IDS,
} from "../shared/http-contracts.js";
import { leaseUntil } from "./deadlines.js";
import { ridOf } from "./dispatch-id.js";
import { httpInputRefusal } from "./http-input.js";
import { httpRefusal } from "./http-takers.js";
import { checkAnswer, UNKNOWN_ID_MESSAGE } from "./lease-rules.js";
import type { RequestLifecycle } from "./request-lifecycle.js";
import type { RequestStore, StoredRequest } from "./store-contract.js";

export interface HttpAnswerDeps {
  store: RequestStore;
  lifecycle: RequestLifecycle;
  limits: Limits;
  now: number;
}

/** HTTP server `identity` fails relay id `id`: the client gets `server_error` with `message`. */
export function failAsHttpServer(
  deps: HttpAnswerDeps,
  identity: string,
  id: string,
  message: string,
): HttpReplyAnswer {
  const held = heldBy(deps, identity, id);
  if (!held.ok) return held;
  const text = cutFailMessage(message) || "handler failed";
  deps.lifecycle.fail(held.row, ERROR_CODE.serverError, text, deps.now, httpConnId(identity));
  return { ok: true };
}

/**
 * HTTP server `identity` keeps relay id `id`: its lease runs leaseMs from now, or the lease it
 * asked for (`asked`, grantedLeaseMs), never past the deadline.
 */
export function extendAsHttpServer(
  deps: HttpAnswerDeps,
  identity: string,
  id: string,
  asked?: number,
): HttpExtendAnswer {
  const held = heldBy(deps, identity, id);
  if (!held.ok) return held;
  const leaseMs = grantedLeaseMs(asked, deps.limits.leaseMs);
  const until = leaseUntil(deps.now, held.row.deadline, leaseMs);
  deps.store.extend(held.row.rid, until);
  return { ok: true, leaseUntil: until };
}

/** HTTP server `identity` keeps each of `ids` (as extendAsHttpServer does one), in order. */
export function extendEachAsHttpServer(
  deps: HttpAnswerDeps,
  identity: string,
  ids: readonly unknown[],
  asked?: number,
): HttpExtendAnswer[] {
  return ids.map((id) =>
    isRequestId(id) ? extendAsHttpServer(deps, identity, id, asked) : { ok: false, error: badId() },
  );
}

function badId(): WireError {
  return { code: ERROR_CODE.notFound, message: "not dispatched to this server (bad id)" };
}

function heldBy(
  deps: HttpAnswerDeps,
  identity: string,
  id: string,
): { ok: true; row: StoredRequest } | Extract<HttpReplyAnswer, { ok: false }> {
  const rid = ridOf(id);
  const row = rid === undefined ? undefined : deps.store.get(rid);
  const check = checkAnswer(row, httpConnId(identity), deps.now);
  if (!check.ok) return { ok: false, error: httpRefusal(check.error) };
  if (row === undefined) {
    const unknown = { code: ERROR_CODE.forbidden, message: UNKNOWN_ID_MESSAGE };
    return { ok: false, error: httpRefusal(unknown) };
  }
  return { ok: true, row };
}

/** Re-validates a fail or extend handed over by the front door; undefined when it may proceed. */
export function httpAnswerRefusal(
  input: { queue: unknown; identity: unknown; id: unknown; message?: unknown; leaseMs?: unknown },
  knownQueue: string | undefined,
): WireError | undefined {
  const refusal = httpInputRefusal(input, knownQueue);
  if (refusal !== undefined) return refusal;
  if (!isRequestId(input.id)) return badId();
  if ("message" in input && typeof input.message !== "string") {
    return { code: ERROR_CODE.badRequest, message: "message must be a string" };
  }
  return undefined;
}

/** Re-validates a lease call for several ids; undefined when it may proceed. */
export function httpLeasesRefusal(
  input: { queue: unknown; identity: unknown; ids: unknown; leaseMs?: unknown },
  knownQueue: string | undefined,
): WireError | undefined {
  const refusal = httpInputRefusal(input, knownQueue);
  if (refusal !== undefined) return refusal;
  const { ids } = input;
  if (!Array.isArray(ids) || ids.length === 0 || ids.length > MAX_LEASE_IDS) {
    return { code: ERROR_CODE.badRequest, message: `ids must list 1 to ${MAX_LEASE_IDS} ids` };
  }
  return undefined;
}
