/**
 * One dispatch pass: while some server has free capacity, take the next queued request
 * (round-robin across client identities, ready-index.ts), give it to the least recently used
 * server with room (server-choice.ts), lease it and queue its `dispatch` frame in the outbox
 * (batched per server). A request that runs alone (lease-rules.ts runsAlone) is placed first, on
 * an idle server; when none is idle it waits, and a server is kept free for it (given nothing
 * new this pass) so one drains. The pass writes its leases at its end, one statement per server.
 * Expired requests met on the way are ended, never dispatched. Runs inside the caller's
 * transaction; used by queue-settle.ts.
 */
import {
  type DispatchFrame,
  ERROR_CODE,
  type ErrorCode,
  type Limits,
} from "../../protocol/index.js";
import { expiryError, isExpired, leaseUntil } from "./deadlines.js";
import { dispatchId } from "./dispatch-id.js";
import type { FrameOutbox } from "./frame-outbox.js";
import { runsAlone } from "./lease-rules.js";
import type { Entry, ReadyIndex } from "./ready-index.js";
import {
  chooseIdleServer,
  chooseServer,
  type LiveServer,
  serverToKeepFree,
} from "./server-choice.js";
import type { RequestStore, StoredRequest } from "./store-contract.js";

/** The queue's servers, as a pass uses them (server-registry.ts). */
export interface DispatchServers {
  all(): LiveServer[];
  /** `server` was leased a request; `alone`: one that runs alone. */
  markDispatched(server: LiveServer, alone?: boolean): void;
}

/** How a pass ends a request it cannot dispatch (request-lifecycle.ts). */
export interface DispatchLifecycle {
  fail(row: StoredRequest, code: ErrorCode, message: string, now: number): void;
}

export interface DispatchDeps {
  store: RequestStore;
  servers: DispatchServers;
  ready: ReadyIndex;
  lifecycle: DispatchLifecycle;
  outbox: Pick<FrameOutbox, "push">;
  limits: Limits;
  queue: string;
  now: number;
}

/** A request ready to dispatch, with its body. */
export type DispatchableRow = StoredRequest & { body: DispatchFrame["body"] };

/** What one pass has done so far. */
interface Pass {
  servers: LiveServer[];
  /** Relay ids leased, by connection, written at the pass's end. */
  leases: Map<string, number[]>;
  /** Servers given nothing new: each drains for a request that runs alone. */
  keptFree: Set<string> | undefined;
  /** Requests that run alone and found no idle server, back to the index at the pass's end. */
  waiting: Entry[];
  sent: number;
}

/** Dispatches as many queued requests as servers can take; returns how many were sent. */
export function dispatchReady(deps: DispatchDeps): number {
  const { store, limits, now } = deps;
  const pass: Pass = {
    servers: deps.servers.all(),
    leases: new Map(),
    keptFree: undefined,
    waiting: [],
    sent: 0,
  };
  for (const entry of deps.ready.takeAlone()) {
    const row = dispatchable(deps, entry);
    if (row === undefined) continue;
    if (runsAlone(row.attempt, limits.maxAttempts)) placeAlone(deps, pass, row);
    else deps.ready.add(row.from, row.rid); // maxAttempts was raised since it was set apart
  }
  for (;;) {
    const server = chooseServer(pass.servers, pass.keptFree);
    if (server === undefined) break;
    const row = nextDispatchable(deps);
    if (row === undefined) break;
    if (runsAlone(row.attempt, limits.maxAttempts)) placeAlone(deps, pass, row);
    else lease(deps, pass, server, row);
  }
  deps.ready.putBackAlone(pass.waiting);
  for (const [connId, rids] of pass.leases)
    store.leaseAll(rids, connId, leaseUntil(now, Infinity, limits.leaseMs));
  return pass.sent;
}

/** A request that runs alone goes to an idle server, or waits with a server kept free for it. */
function placeAlone(deps: DispatchDeps, pass: Pass, row: DispatchableRow): void {
  const idle = chooseIdleServer(pass.servers);
  if (idle !== undefined) {
    lease(deps, pass, idle, row, true);
    return;
  }
  pass.waiting.push({ from: row.from, rid: row.rid });
  pass.keptFree ??= new Set();
  const drain = serverToKeepFree(pass.servers, pass.keptFree);
  if (drain !== undefined) pass.keptFree.add(drain.connId);
}

function lease(
  deps: DispatchDeps,
  pass: Pass,
  server: LiveServer,
  row: DispatchableRow,
  alone = false,
): void {
  const rids = pass.leases.get(server.connId);
  if (rids) rids.push(row.rid);
  else pass.leases.set(server.connId, [row.rid]);
  deps.servers.markDispatched(server, alone);
  deps.outbox.push(server.ws, dispatchFrame(row, row.body, deps.queue));
  pass.sent++;
}

/**
 * The next queued request that may be dispatched, taken from the ready index; expired or
 * unreadable requests met on the way are ended, never dispatched. Also used for HTTP servers
 * (http-takers.ts).
 */
export function nextDispatchable(
  deps: Pick<DispatchDeps, "store" | "ready" | "lifecycle" | "now">,
): DispatchableRow | undefined {
  for (;;) {
    const next = deps.ready.take();
    if (next === undefined) return undefined;
    const row = dispatchable(deps, next);
    if (row !== undefined) return row;
  }
}

/**
 * Index entry `entry` as a request to dispatch, or `undefined`: it is no longer queued (a stale
 * entry), or it expired or is unreadable (it is ended here).
 */
export function dispatchable(
  deps: Pick<DispatchDeps, "store" | "lifecycle" | "now">,
  entry: Entry,
): DispatchableRow | undefined {
  const { store, lifecycle, now } = deps;
  const row = store.get(entry.rid);
  if (row === undefined || row.state !== "queued") return undefined;
  if (isExpired(row.deadline, now)) {
    const { code, message } = expiryError(row.sawServer);
    lifecycle.fail(row, code, message, now);
    return undefined;
  }
  const body = row.body;
  if (body === undefined) {
    lifecycle.fail(row, ERROR_CODE.internal, "the stored request is unreadable", now);
    return undefined;
  }
  return { ...row, body };
}

/** The `dispatch` frame for a request leased now (its attempt counts this dispatch). */
export function dispatchFrame(
  row: StoredRequest,
  body: DispatchFrame["body"],
  queue: string,
): DispatchFrame {
  const frame: DispatchFrame = {
    type: "dispatch",
    id: dispatchId(row.rid),
    from: row.from,
    queue,
    body,
    deadline: row.deadline,
    attempt: row.attempt + 1,
  };
  if (row.headers !== undefined) frame.headers = row.headers;
  return frame;
}
