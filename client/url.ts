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
  IDENTITY_RULE,
  isIdentity,
  PATHS,
  SUBPROTOCOL,
  TOKEN_SUBPROTOCOL_PREFIX,
  tokenExpired,
  tokenSubject,
} from "../protocol/index.js";

export interface Credentials {
  identity?: string | undefined;
  token?: string | undefined;
}

/**
 * A peer's credentials as its sockets read them each time they open: `renewToken` (the peer's
 * setToken) replaces the token and counts the renewal, so a socket that the relay closes because
 * its token expired (4401) reconnects with the new one instead of ending (connection.ts).
 */
export interface LiveCredentials extends Credentials {
  /** Renewals so far. */
  revision: number;
}

/**
 * Credentials to renew: the options' identity or token (cleanToken), at revision 0. Throws
 * `bad_request` for an identity the relay would refuse (an empty one included, which it would
 * take for none: `unauthorized`).
 */
export function liveCredentials(identity?: string, token?: string): LiveCredentials {
  if (identity !== undefined && !isIdentity(identity)) {
    throw new EdgeMQError(ERROR_CODE.badRequest, `identity must be ${IDENTITY_RULE}`);
  }
  return { identity, token: token === undefined ? undefined : cleanToken(token), revision: 0 };
}

/**
 * A token as given, without surrounding whitespace: one read from a file, a terminal or
 * `fetch().text()` often ends in a newline, which a browser refuses in a WebSocket subprotocol
 * (its error, passed on as the connection's, quoted the whole token) while fetch drops it, so
 * `transport: "auto"` silently fell back to HTTP. A token with a `Bearer ` prefix, or whitespace
 * or other characters inside, is refused with `bad_request`, never repeating it.
 */
export function cleanToken(token: string): string {
  if (typeof token !== "string")
    throw new EdgeMQError(ERROR_CODE.badRequest, "token must be a string");
  const trimmed = token.trim();
  const alone = "pass the token alone, as `edgemq token` prints it";
  if (/^bearer\s/i.test(trimmed)) {
    throw new EdgeMQError(ERROR_CODE.badRequest, `token starts with "Bearer ": ${alone}`);
  }
  if (/[^\x21-\x7e]/.test(trimmed)) {
    const message = `token holds spaces or characters no token has: ${alone}`;
    throw new EdgeMQError(ERROR_CODE.badRequest, message);
  }
  return trimmed;
}

/**
 * Replaces the token of a signed-mode peer of `identity` (setToken): throws `bad_request` for a
 * peer that connected without a token (dev mode), or a token that names another identity.
 */
export function renewToken(credentials: LiveCredentials, given: string, identity: string): void {
  if (credentials.token === undefined) {
    throw new EdgeMQError(ERROR_CODE.badRequest, "setToken: this peer connected without a token");
  }
  const token = cleanToken(given);
  const subject = typeof token === "string" ? tokenSubject(token) : undefined;
  if (subject !== identity) {
    const named = subject === undefined ? "no identity" : `identity ${subject}`;
    const message = `setToken: the token names ${named}, and this peer is ${identity}`;
    throw new EdgeMQError(ERROR_CODE.badRequest, message);
  }
  if (tokenExpired(token, Date.now())) {
    throw new EdgeMQError(ERROR_CODE.badRequest, "setToken: the token has expired");
  }
  credentials.token = token;
  credentials.revision++;
}

const SCHEME = /^(wss?|https?):\/\//i;

/**
 * Refuses a relay URL that names one of its routes or carries a query (`ws://host/v1/connect`,
 * copied from the wire docs, or `?identity=`): the SDK adds the route and the identity itself,
 * and such a URL failed later as `not_found: no route for GET /v1/connect/v1/whoami`. A path
 * before `/v1/` (a relay behind a proxy's prefix) is kept.
 */
export function checkRelayUrl(url: string): void {
  const parsed = typeof url === "string" && SCHEME.test(url) ? parsedUrl(url) : undefined;
  if (parsed === undefined) {
    throw new EdgeMQError(
      ERROR_CODE.badRequest,
      "relay url must start with ws(s):// or http(s)://",
    );
  }
  const route = parsed.pathname.search(/\/(v1(\/|$)|healthz$)/);
  if (route === -1 && parsed.search === "" && parsed.hash === "") return;
  const prefix = route === -1 ? parsed.pathname : parsed.pathname.slice(0, route);
  const base = `${parsed.protocol}//${parsed.host}${prefix}`.replace(/\/+$/, "");
  // The URL itself is not repeated: its query may hold a token.
  const problem = route === -1 ? "has a query or fragment" : "names a relay route";
  const message = `relay url ${problem}: give the relay's address alone, e.g. ${base}`;
  throw new EdgeMQError(ERROR_CODE.badRequest, message);
}

function parsedUrl(url: string): URL | undefined {
  try {
    return new URL(url);
  } catch {
    return undefined;
  }
}

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
