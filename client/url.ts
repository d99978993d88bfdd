/**
 * Builds the relay's WebSocket URLs from the base URL a user gives: http(s) becomes ws(s), a
 * trailing slash is tolerated, and the identity (dev mode) travels as a query parameter, which works
 * on every platform. A token travels as a WebSocket subprotocol (`edgemq.token.<jwt>`): browsers
 * cannot set headers on a WebSocket, and unlike a query it stays out of access logs.
 * Used by peer.ts and service.ts.
 */
import {
  EdgeMQError,
  ERROR_CODE,
  PATHS,
  SUBPROTOCOL,
  TOKEN_SUBPROTOCOL_PREFIX,
} from "../protocol/index.js";

export interface Credentials {
  identity?: string | undefined;
  token?: string | undefined;
}

const SCHEME = /^(wss?|https?):\/\//i;

export function socketUrl(
  base: string,
  path: string,
  credentials: Credentials,
  params: readonly string[] = [],
): string {
  const match = SCHEME.exec(base);
  const scheme = match?.[1]?.toLowerCase();
  if (!match || !scheme) {
    throw new EdgeMQError(
      ERROR_CODE.badRequest,
      `relay url must start with ws(s):// or http(s)://`,
    );
  }
  const wsScheme = scheme === "https" ? "wss" : scheme === "http" ? "ws" : scheme;
  const rest = base.slice(match[0].length).replace(/\/+$/, "");
  const query: string[] = [];
  if (credentials.identity !== undefined) {
    query.push(`identity=${encodeURIComponent(credentials.identity)}`);
  }
  query.push(...params);
  const search = query.length > 0 ? `?${query.join("&")}` : "";
  return `${wsScheme}://${rest}${path}${search}`;
}

export function connectUrl(base: string, credentials: Credentials): string {
  return socketUrl(base, PATHS.connect, credentials);
}

/** A queue link's URL: a client socket bound to `queue` (connect option `route: "queue"`). */
export function queueConnectUrl(base: string, queue: string, credentials: Credentials): string {
  return socketUrl(base, PATHS.queueConnect(queue), credentials);
}

/** A server socket's URL; `partition` picks one partition of a partitioned queue (default 0). */
export function serveUrl(
  base: string,
  queue: string,
  credentials: Credentials,
  partition?: number,
): string {
  const params = partition === undefined ? [] : [`partition=${partition}`];
  return socketUrl(base, PATHS.serve(queue), credentials, params);
}

/** The subprotocols to offer: none in dev mode; `edgemq` and the token when there is one. */
export function subprotocols(credentials: Credentials): string[] | undefined {
  if (credentials.token === undefined) return undefined;
  return [SUBPROTOCOL, `${TOKEN_SUBPROTOCOL_PREFIX}${credentials.token}`];
}
