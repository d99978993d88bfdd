/**
 * The storage side of `QueueRpc.enqueue`: re-validates each request handed over by the exchange,
 * answers a resend of a known id with its stored deadline (never stored or run twice), admits
 * or refuses new ones (enqueue-rules.ts) and inserts them, all in one statement: the insert
 * itself finds a resend (its unique ids conflict), and only a resend or a refusal looks the
 * stored deadline up. Admitted requests count against the depth and in-flight limits as they
 * are admitted, before the insert tells resends apart. Runs inside one transaction; used by
 * queue-do.ts.
 */
import {
  decodeFrameValue,
  ERROR_CODE,
  isIdentity,
  isQueueName,
  type Limits,
  type WireError,
} from "../../protocol/index.js";
import type { EnqueueInput, EnqueueOutcome } from "../shared/contracts.js";
import { admit } from "./enqueue-rules.js";
import type { NewRequest, RequestStore } from "./request-store.js";

export interface EnqueueDeps {
  store: RequestStore;
  limits: Limits;
  serverConnected: boolean;
  now: number;
  /** Called for each newly stored request (to keep the ready index current). */
  onStored: (from: string, rid: number) => void;
  /** The requests came on the client's queue link (their outcomes go back down it). */
  viaLink?: boolean;
}

export function enqueueAll(input: EnqueueInput, deps: EnqueueDeps): EnqueueOutcome[] {
  const { store } = deps;
  const requests: readonly unknown[] = Array.isArray(input.requests) ? input.requests : [];
  const refuseAll = (error: WireError) => requests.map((r) => refused(readId(r), error));
  if (!isQueueName(input.queue) || !isIdentity(input.from)) {
    return refuseAll({ code: ERROR_CODE.badRequest, message: "invalid queue or sender" });
  }
  const known = store.queueName();
  if (known !== undefined && known !== input.queue) {
    return refuseAll({ code: ERROR_CODE.badRequest, message: "this object serves another queue" });
  }
  store.setQueueName(input.queue);
  const planned = admitEach(requests, input.from, deps);
  const fresh = planned.flatMap((p) => (p.kind === "admitted" ? [p.row] : []));
  const rids = store.insertAll(fresh);
  let next = 0;
  return planned.map((p): EnqueueOutcome => {
    if (p.kind === "invalid") return p.outcome;
    const resent = () => {
      const stored = store.findDeadline(input.from, p.id);
      return stored === undefined ? undefined : { id: p.id, ok: true as const, deadline: stored };
    };
    // A resend of a stored request is answered as stored, even when a new one would be refused.
    if (p.kind === "refused") return resent() ?? refused(p.id, p.error);
    const rid = rids[next++];
    if (rid === undefined) return resent() ?? refused(p.id, storeRace());
    deps.onStored(input.from, rid);
    return { id: p.id, ok: true, deadline: p.row.deadline };
  });
}

type Planned =
  | { kind: "invalid"; outcome: EnqueueOutcome }
  | { kind: "refused"; id: string; error: WireError }
  | { kind: "admitted"; id: string; row: NewRequest };

/** Decodes and admits each request in order; admitted ones count against the limits at once. */
function admitEach(requests: readonly unknown[], from: string, deps: EnqueueDeps): Planned[] {
  const { store, now } = deps;
  let depth = store.liveDepth();
  let clientInFlight = store.clientLive(from);
  return requests.map((raw): Planned => {
    const decoded = decodeFrameValue(raw);
    if (!decoded.ok || decoded.value.type !== "request") {
      const message = decoded.ok ? "not a request" : decoded.error.message;
      return {
        kind: "invalid",
        outcome: refused(readId(raw), { code: ERROR_CODE.badRequest, message }),
      };
    }
    const request = decoded.value;
    const ctx = {
      now,
      limits: deps.limits,
      depth,
      clientInFlight,
      serverConnected: deps.serverConnected,
    };
    const admitted = admit(request, ctx);
    if (!admitted.ok) return { kind: "refused", id: request.id, error: admitted.error };
    depth++;
    clientInFlight++;
    const row: NewRequest = {
      clientId: request.id,
      from,
      body: request.body,
      headers: request.headers,
      deadline: admitted.value,
      now,
      sawServer: deps.serverConnected,
      viaLink: deps.viaLink === true,
    };
    return { kind: "admitted", id: request.id, row };
  });
}

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
