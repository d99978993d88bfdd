/**
 * Token expiry on live server connections. A server whose token expired (or whose socket predates
 * token checks, outside dev mode) is closed with 4401 and a reason, is never dispatched to, and
 * its leased requests wait a short grace for it to reconnect (renewed) and claim them, then go
 * back to the queue. The next expiry among connected servers joins the queue's one alarm.
 * Checked on each message, before every dispatch pass, and by the alarm. Runs inside the
 * caller's transaction; used by queue-do.ts, queue-settle.ts and queue-alarm.ts.
 */
import { CLOSE_CODE } from "../../protocol/index.js";
import { connectionRefusal, NEVER_EXPIRES, nextExpiry } from "../shared/token-expiry.js";
import type { RequestLifecycle } from "./request-lifecycle.js";
import type { ServerAttachment } from "./server-attachment.js";
import type { ServerRegistry } from "./server-registry.js";
import { closeQuietly } from "./server-socket.js";

/** Why `conn` may no longer act at `now`, or undefined when it still may. */
export function serverRefusal(
  conn: Pick<ServerAttachment, "expiresAt">,
  devMode: boolean,
  now: number,
): string | undefined {
  return connectionRefusal(conn.expiresAt, devMode, now);
}

export interface ServerExpiryDeps {
  servers: ServerRegistry;
  lifecycle: RequestLifecycle;
  devMode: boolean;
  now: number;
}

/**
 * Closes server `ws` with 4401 (or `code`). After 4401 (its token expired) its leases wait a
 * short grace for its claim (RequestLifecycle.serverExpired): a server renewed with setToken
 * reconnects at once, its handlers still running, and no other server should run them meanwhile.
 * After another code (1008, unreadable frames) they go as a closed socket's (serverClosed).
 */
export function closeServer(
  deps: ServerExpiryDeps,
  ws: WebSocket,
  conn: ServerAttachment,
  reason: string,
  code: number = CLOSE_CODE.unauthorized,
): void {
  deps.servers.retire(conn.connId);
  if (code === CLOSE_CODE.unauthorized) deps.lifecycle.serverExpired(conn.connId, deps.now);
  else deps.lifecycle.serverClosed(conn.connId, conn.identity, deps.now);
  closeQuietly(ws, code, reason);
}

/**
 * Server `conn`'s socket closed (its close or error event). A token that no longer holds means
 * the relay closed it with 4401 (closeServer: this is the close's echo) or was about to: its
 * leases wait for its claim (RequestLifecycle.serverExpired), as closeServer left them, and are
 * not handed to other servers now. Otherwise they go as any closed socket's (serverClosed).
 */
export function serverGone(deps: ServerExpiryDeps, conn: ServerAttachment): void {
  deps.servers.retire(conn.connId);
  if (serverRefusal(conn, deps.devMode, deps.now) !== undefined) {
    deps.lifecycle.serverExpired(conn.connId, deps.now);
  } else {
    deps.lifecycle.serverClosed(conn.connId, conn.identity, deps.now);
  }
}

/** Closes every connected server that may no longer act; returns how many were closed. */
export function closeExpiredServers(deps: ServerExpiryDeps): number {
  let closed = 0;
  for (const server of deps.servers.all()) {
    const reason = serverRefusal(server.attachment, deps.devMode, deps.now);
    if (reason === undefined) continue;
    closeServer(deps, server.ws, server.attachment, reason);
    closed++;
  }
  return closed;
}

/** When the alarm must next wake to close a server, if ever. */
export function nextServerExpiry(servers: ServerRegistry, now: number): number | undefined {
  return nextExpiry(
    servers.all().map((s) => s.attachment.expiresAt ?? NEVER_EXPIRES),
    now,
  );
}
