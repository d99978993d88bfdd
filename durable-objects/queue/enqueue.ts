/**
 * The storage side of `QueueRpc.enqueue`: re-validates each request handed over by the exchange,
 * answers a resend of a known id with its stored deadline (never stored or run twice; refused
 * `conflict` when it came on the other transport, HTTP or WebSocket, than the stored one), admits
 * or refuses new ones (enqueue-rules.ts) and inserts them, all in one statement: the insert
 * itself finds a resend (its unique ids conflict), and only a resend or a refusal looks the
 * stored deadline up. Admitted requests count against the depth and in-flight limits as they
 * are admitted, before the insert tells resends apart. With `resendsOnly` (the client's outcomes
 * wait unacked in the exchange), only resends are answered and the rest refused. Runs inside one transaction; used by
 * queue-do.ts (`enqueueAll`, for the exchange's RPC) and link-enqueues.ts (`enqueueDecoded`, for
 * frames a queue link already decoded and validated).
 */
import {
  decodeFrameValue,
  ERROR_CODE,
  isIdentity,
  isQueueName,
  type Limits,
  type RequestFrame,
  type WireError,
} from "../../protocol/index.js";
import type { EnqueueInput, EnqueueOutcome } from "../shared/contracts.js";
import { partitionCount, type QueuePartitions } from "../shared/queue-partitions.js";
import type { EarlyCancels } from "./early-cancels.js";
import { type AdmissionContext, admit } from "./enqueue-rules.js";
import type { NewRequest, RequestStore } from "./store-contract.js";

export interface EnqueueDeps {
  store: RequestStore;
  limits: Limits;
  serverConnected: boolean;
  now: number;
  /** Called for each newly stored request (to keep the ready index current). */
  onStored: (from: string, rid: number) => void;
  /** The requests came on the client's queue link (their outcomes go back down it). */
  viaLink?: boolean;
  /** HTTP POSTs sent the requests (true), a WebSocket did (false), or unknown (undefined). */
  viaHttp?: boolean | undefined;
  /** Cancels that came before their requests (early-cancels.ts). */
  earlyCancels: EarlyCancels;
  /** The relay's partition rules, so refusals can name a partition; absent: unpartitioned. */
  queuePartitions?: Pick<QueuePartitions, "rules">;
}

export function enqueueAll(input: EnqueueInput, deps: EnqueueDeps): EnqueueOutcome[] {
  const requests: readonly unknown[] = Array.isArray(input.requests) ? input.requests : [];
  const refuseAll = (error: WireError) => requests.map((r) => refused(readId(r), error));
  if (!isQueueName(input.queue) || !isIdentity(input.from)) {
    return refuseAll({ code: ERROR_CODE.badRequest, message: "invalid queue or sender" });
  }
  const known = deps.store.queueName();
  if (known !== undefined && known !== input.queue) {
    return refuseAll({ code: ERROR_CODE.badRequest, message: "this object serves another queue" });
  }
  const decoded = requests.map((raw): RequestFrame | EnqueueOutcome => {
    const result = decodeFrameValue(raw);
    if (result.ok && result.value.type === "request") return result.value;
    const message = result.ok ? "not a request" : result.error.message;
    return refused(readId(raw), { code: ERROR_CODE.badRequest, message });
  });
  if (typeof input.resendsOnly === "string") {
    const error = { code: ERROR_CODE.tooManyInFlight, message: input.resendsOnly.slice(0, 512) };
    return decoded.map((r) =>
      "type" in r ? (resent(deps, input.from, r.id) ?? refused(r.id, error)) : r,
    );
  }
  return enqueueDecoded(input.queue, input.from, decoded, deps);
}

/**
 * Requests already decoded and validated (a queue link's, decoded by link-messages.ts; the
 * queue and identity are the link's own): admits, stores and answers each, in order. An entry
 * that is already an outcome (refused while decoding) is answered as it is.
 */
export function enqueueDecoded(
  queue: string,
  from: string,
  requests: readonly (RequestFrame | EnqueueOutcome)[],
  deps: EnqueueDeps,
): EnqueueOutcome[] {
  const { store } = deps;
  const known = store.queueName();
  if (known !== queue) {
    if (known !== undefined) {
      const error = { code: ERROR_CODE.badRequest, message: "this object serves another queue" };
      return requests.map((r) => refused(r.id, error));
    }
    store.setQueueName(queue);
  }
  const partitions = deps.queuePartitions && partitionCount(deps.queuePartitions, queue);
  const planned = admitEach(requests, from, deps, partitions);
  const fresh: NewRequest[] = [];
  for (const p of planned) if (p.kind === "admitted") fresh.push(p.row);
  const rids = store.insertAll(fresh);
  let next = 0;
  return planned.map((p): EnqueueOutcome => {
    if (p.kind === "invalid") return p.outcome;
    // A resend of a stored request is answered as stored, even when a new one would be refused.
    if (p.kind === "refused") return resent(deps, from, p.id) ?? refused(p.id, p.error);
    const rid = rids[next++];
    if (rid === undefined) return resent(deps, from, p.id) ?? refused(p.id, storeRace());
    deps.onStored(from, rid);
    return { id: p.id, ok: true, deadline: p.row.deadline };
  });
}

/**
 * A resend of stored request `id` is answered as stored. An id names one request, so a WebSocket
 * request that reuses an HTTP request's id (or the reverse) is refused `conflict`: its outcome
 * goes where the stored request's goes, and its sender would never get one.
 */
function resent(deps: EnqueueDeps, from: string, id: string): EnqueueOutcome | undefined {
  const stored = deps.store.findStored(from, id);
  if (stored === undefined) return undefined;
  const { viaHttp } = deps;
  if (stored.viaHttp !== undefined && viaHttp !== undefined && stored.viaHttp !== viaHttp) {
    const first = stored.viaHttp ? "an HTTP request" : "a WebSocket request";
    const message = `request id ${id} is already used by ${first} of this identity`;
    return refused(id, { code: ERROR_CODE.conflict, message });
  }
  return { id, ok: true, deadline: stored.deadline, resent: true };
}

type Planned =
  | { kind: "invalid"; outcome: EnqueueOutcome }
  | { kind: "refused"; id: string; error: WireError }
  | { kind: "admitted"; id: string; row: NewRequest };

/** Admits each request in order; admitted ones count against the limits at once. */
function admitEach(
  requests: readonly (RequestFrame | EnqueueOutcome)[],
  from: string,
  deps: EnqueueDeps,
  partitions: number | undefined,
): Planned[] {
  const { store, now } = deps;
  const ctx: AdmissionContext = {
    now,
    limits: deps.limits,
    depth: store.liveDepth(),
    clientInFlight: store.clientLive(from),
    serverConnected: deps.serverConnected,
    memoryChars: store.memoryChars(),
    partitions,
  };
  return requests.map((request): Planned => {
    if (!("type" in request)) return { kind: "invalid", outcome: request };
    if (deps.earlyCancels.cancelled(from, request.id, now)) {
      return { kind: "refused", id: request.id, error: CANCELLED_BEFORE };
    }
    const admitted = admit(request, ctx);
    if (!admitted.ok) return { kind: "refused", id: request.id, error: admitted.error };
    ctx.depth++;
    ctx.clientInFlight++;
    if (ctx.memoryChars !== undefined) ctx.memoryChars += request.body.data.length;
    const row: NewRequest = {
      clientId: request.id,
      from,
      body: request.body,
      headers: request.headers,
      deadline: admitted.value,
      now,
      sawServer: deps.serverConnected,
      viaLink: deps.viaLink === true,
      viaHttp: deps.viaHttp,
    };
    return { kind: "admitted", id: request.id, row };
  });
}

/** A request whose client cancelled it before it reached the queue. */
const CANCELLED_BEFORE: WireError = {
  code: ERROR_CODE.cancelled,
  message: "the request was cancelled by its client before it reached the queue",
};

/** The insert conflicted, yet no stored request has the ids: a bug, never expected. */
function storeRace(): WireError {
  return { code: ERROR_CODE.internal, message: "request ids conflicted but were not found" };
}

function refused(id: string, error: WireError): EnqueueOutcome {
  return { id, ok: false, error };
}

function readId(raw: unknown): string {
  return typeof raw === "object" && raw !== null && "id" in raw && typeof raw.id === "string"
    ? raw.id
    : "";
}
