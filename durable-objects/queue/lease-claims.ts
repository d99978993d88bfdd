/**
 * Leases that outlive a server's connection (docs/guarantees.md). A server connection's id names
 * its identity (`<random>/<identity>`), so a lease held by a connection that is gone (replaced by
 * a newer connection of the same identity, closed by the relay for an expired token, or lost with
 * a relay restart) still says whose it was.
 * The newer connection's `ready {holding}` lists the dispatches its server still has in hand:
 * those leased to a gone connection of the same identity, or queued again when it closed and not
 * dispatched since, move to it (same attempt, a fresh lease), and every other id it names gets
 * `cancel`. Whatever that identity's gone connections still hold
 * then returns to the queue (request-lifecycle.ts). So a handler that was running across a
 * reconnect or a relay restart answers its request, instead of the request running again.
 * Runs inside the caller's transaction; used by server-messages.ts.
 */
import { leaseUntil } from "./deadlines.js";
import { ridOf } from "./dispatch-id.js";
import type { FrameOutbox } from "./frame-outbox.js";
import type { LeaseView } from "./lease-rules.js";
import type { RequestStore } from "./store-contract.js";

/** A server connection's id: random, then its identity (identities never contain `/`). */
export function serverConnId(identity: string, random: string): string {
  return `${random}/${identity}`;
}

/** The identity a server connection id names; undefined for ids made before they named one. */
export function identityOfConn(connId: string): string | undefined {
  const at = connId.indexOf("/");
  return at < 0 ? undefined : connId.slice(at + 1);
}

/**
 * How long a lease orphaned by a relay restart (or by a 4401 close, or a closed socket's last
 * allowed dispatch: request-lifecycle.ts) waits for its server to reconnect and claim it
 * (about the SDK's longest reconnect backoff) before it returns to the queue for another server:
 * never its full lease, which may outlast the request's deadline.
 */
export const ORPHAN_CLAIM_GRACE_MS = 10_000;

export type ClaimVerdict = "claim" | "keep" | "cancel";

/**
 * What becomes of dispatch `row` that connection `conn` says it holds: `claim` it (leased to a gone
 * connection of the same identity, or queued again when that one closed, deadline not passed),
 * `keep` (already this connection's), or `cancel` (unknown, ended, past its deadline, lost by this
 * very connection, or another identity's or live connection's).
 */
export function claimVerdict(
  row: LeaseView | undefined,
  conn: { connId: string; identity: string },
  isLive: (connId: string) => boolean,
  now: number,
): ClaimVerdict {
  if (row === undefined || row.state === "done" || row.leaseConn === null) return "cancel";
  if (row.leaseConn === conn.connId) return row.state === "leased" ? "keep" : "cancel";
  if (row.deadline <= now) return "cancel";
  if (identityOfConn(row.leaseConn) !== conn.identity) return "cancel";
  return isLive(row.leaseConn) ? "cancel" : "claim";
}

export interface ClaimDeps {
  store: RequestStore;
  /** The live server connections (server-registry.ts). */
  servers: { get(connId: string): unknown; invalidate(): void };
  outbox: FrameOutbox;
  limits: { leaseMs: number };
  now: number;
}

/** Carries out `ready {holding}` from `conn` (on socket `ws`): claims what it may, cancels the rest. */
export function claimHeld(
  deps: ClaimDeps,
  ws: WebSocket,
  conn: { connId: string; identity: string },
  ids: readonly string[],
): void {
  const isLive = (connId: string) => deps.servers.get(connId) !== undefined;
  let claimed = false;
  for (const id of ids) {
    const rid = ridOf(id);
    const row = rid === undefined ? undefined : deps.store.get(rid);
    const verdict = claimVerdict(row, conn, isLive, deps.now);
    if (verdict === "claim" && row !== undefined) {
      const until = leaseUntil(deps.now, row.deadline, deps.limits.leaseMs);
      deps.store.transferLease(row.rid, conn.connId, until);
      claimed = true;
    } else if (verdict === "cancel") {
      deps.outbox.push(ws, { type: "cancel", id });
    }
  }
  if (claimed) deps.servers.invalidate();
}
