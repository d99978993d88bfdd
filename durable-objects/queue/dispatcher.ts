/**
 * One dispatch pass: while some server has free capacity, take the next queued request
 * (round-robin across client identities, ready-index.ts), give it to the least recently used
 * server with room (server-choice.ts), lease it and queue its `dispatch` frame in the outbox
 * (batched per server). The pass writes its leases at its end, one statement per server. Expired requests met on the way are ended, never dispatched.
 * Runs inside the caller's transaction; used by queue-settle.ts.
 */
import { type DispatchFrame, ERROR_CODE, type Limits } from "../../protocol/index.js";
import { expiryError, isExpired, leaseUntil } from "./deadlines.js";
import { dispatchId } from "./dispatch-id.js";
import type { FrameOutbox } from "./frame-outbox.js";
import type { ReadyIndex } from "./ready-index.js";
import type { RequestLifecycle } from "./request-lifecycle.js";
import { chooseServer } from "./server-choice.js";
import type { ServerRegistry } from "./server-registry.js";
import type { RequestStore, StoredRequest } from "./store-contract.js";

export interface DispatchDeps {
  store: RequestStore;
  servers: ServerRegistry;
  ready: ReadyIndex;
  lifecycle: RequestLifecycle;
  outbox: FrameOutbox;
  limits: Limits;
  queue: string;
  now: number;
}

/** Dispatches as many queued requests as servers can take; returns how many were sent. */
export function dispatchReady(deps: DispatchDeps): number {
  const { store, servers, limits, now } = deps;
  const leases = new Map<string, number[]>();
  let sent = 0;
  for (;;) {
    const server = chooseServer(servers.all());
    if (server === undefined) break;
    const row = nextDispatchable(deps);
    if (row === undefined) break;
    const rids = leases.get(server.connId);
    if (rids) rids.push(row.rid);
    else leases.set(server.connId, [row.rid]);
    servers.markDispatched(server);
    deps.outbox.push(server.ws, dispatchFrame(row, row.body, deps.queue));
    sent++;
  }
  for (const [connId, rids] of leases)
    store.leaseAll(rids, connId, leaseUntil(now, Infinity, limits.leaseMs));
  return sent;
}

/**
 * The next queued request that may be dispatched, taken from the ready index; expired or
 * unreadable requests met on the way are ended, never dispatched. Also used for HTTP servers
 * (http-takers.ts).
 */
export function nextDispatchable(
  deps: Pick<DispatchDeps, "store" | "ready" | "lifecycle" | "now">,
): (StoredRequest & { body: DispatchFrame["body"] }) | undefined {
  const { store, ready, lifecycle, now } = deps;
  for (;;) {
    const next = ready.take();
    if (next === undefined) return undefined;
    const row = store.get(next.rid);
    if (row === undefined || row.state !== "queued") continue;
    if (isExpired(row.deadline, now)) {
      const { code, message } = expiryError(row.sawServer);
      lifecycle.fail(row, code, message, now);
      continue;
    }
    const body = row.body;
    if (body === undefined) {
      lifecycle.fail(row, ERROR_CODE.internal, "the stored request is unreadable", now);
      continue;
    }
    return { ...row, body };
  }
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
