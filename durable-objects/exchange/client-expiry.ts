/**
 * Token expiry on live client sockets: closes every socket whose token expired (close code 4401,
 * reason "token expired"), or whose attachment predates tokens outside dev mode, and finds the
 * next moment a socket's token expires, for the exchange's one alarm (shared with the outbox
 * purge). Used by exchange-do.ts.
 */
import { CLOSE_CODE, type Principal } from "../../protocol/index.js";
import {
  nextExpiry,
  RECONNECT_REASON,
  TOKEN_EXPIRED_REASON,
  tokenExpired,
} from "../shared/token-expiry.js";
import { type ClientAttachment, readAttachment } from "./client-attachment.js";
import { attachmentPrincipal } from "./request-admission.js";
import { closeQuietly } from "./socket-io.js";

/**
 * The principal `ws` acts as at `now`; when it has none (state older than tokens, outside dev
 * mode) or its token expired, closes the socket with 4401 and returns undefined.
 */
export function authorizedPrincipal(
  ws: WebSocket,
  attachment: ClientAttachment,
  devMode: boolean,
  now: number,
): Principal | undefined {
  const principal = attachmentPrincipal(attachment, devMode);
  if (principal === undefined) {
    closeQuietly(ws, CLOSE_CODE.unauthorized, RECONNECT_REASON);
    return undefined;
  }
  if (tokenExpired(principal.expiresAt, now)) {
    closeQuietly(ws, CLOSE_CODE.unauthorized, TOKEN_EXPIRED_REASON);
    return undefined;
  }
  return principal;
}

/** Closes every unauthorized socket among `sockets`; returns the next future expiry, if any. */
export function sweepExpiredClients(
  sockets: readonly WebSocket[],
  devMode: boolean,
  now: number,
): number | undefined {
  const expiries: number[] = [];
  for (const ws of sockets) {
    const attachment = readAttachment(ws.deserializeAttachment());
    if (attachment === undefined) continue;
    const principal = authorizedPrincipal(ws, attachment, devMode, now);
    if (principal !== undefined) expiries.push(principal.expiresAt);
  }
  return nextExpiry(expiries, now);
}
