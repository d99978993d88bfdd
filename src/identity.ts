/**
 * Establishes who a peer is, before any Durable Object is touched, as a Principal (identity,
 * roles, queue patterns, expiry). Signed mode (EDGEMQ_SECRET set): an HS256 token, from
 * `Authorization: Bearer <jwt>` or, for browsers (which cannot set headers on a WebSocket), the
 * subprotocol `edgemq.token.<jwt>` beside `edgemq`; any other identity claim must agree with it.
 * Dev mode (`npm start`, no secret): the peer declares its identity, and a browser page may call
 * only from a loopback origin (any other site could otherwise claim every identity on the
 * developer's machine). Otherwise: fail closed.
 */

import { devPrincipal } from "../durable-objects/shared/principal-header.js";
import { readSettings } from "../durable-objects/shared/settings.js";
import {
  allowsQueue,
  EdgeMQError,
  ERROR_CODE,
  HEADERS,
  IDENTITY_RULE,
  isIdentity,
  type Principal,
  SUBPROTOCOL,
  TOKEN_SUBPROTOCOL_PREFIX,
  type TokenRole,
  verifyToken,
} from "../protocol/index.js";
import type { Env } from "./env.js";

export { devPrincipal };

/** The principal `request` acts as; throws `unauthorized`, `forbidden` or `bad_request`. */
export async function establishPrincipal(request: Request, env: Env): Promise<Principal> {
  requireEdgemqOffered(request);
  if (env.EDGEMQ_SECRET) return tokenPrincipal(request, signingSecrets(env.EDGEMQ_SECRET, env));
  if (readSettings(env).devMode) {
    requireLocalOrigin(request.headers.get("Origin"));
    const identity = declaredIdentity(request);
    if (identity === undefined) {
      // Also what an SDK peer's connect() rejects with: name its option too, not only the wire's.
      const message = `dev mode: declare an identity with the ${HEADERS.identity} header or ?identity= (in the SDK: connect(url, { identity }))`;
      throw new EdgeMQError(ERROR_CODE.unauthorized, message);
    }
    return devPrincipal(identity);
  }
  throw new EdgeMQError(ERROR_CODE.unauthorized, NO_SECRET_MESSAGE);
}

/**
 * The secrets a token may be signed with: EDGEMQ_SECRET, and during a rotation the one it
 * replaced (EDGEMQ_SECRET_PREVIOUS), so peers holding tokens of the old secret still connect
 * until they have new ones.
 */
function signingSecrets(secret: string, env: Env): string[] {
  const previous = env.EDGEMQ_SECRET_PREVIOUS;
  return typeof previous === "string" && previous !== "" ? [secret, previous] : [secret];
}

/** Why a relay with neither a secret nor dev mode refuses every peer (and fails /healthz). */
export const NO_SECRET_MESSAGE =
  "relay has no EDGEMQ_SECRET configured: it refuses every peer (see README, Deploying and Security)";

/** Whether this relay can admit any peer: it has a secret, or runs in dev mode. */
export function admitsPeers(env: Env): boolean {
  return Boolean(env.EDGEMQ_SECRET) || readSettings(env).devMode;
}

/** Hosts a dev-mode relay takes browser pages from: this machine's. */
const LOOPBACK_HOST = /^(localhost|127(\.[0-9]{1,3}){3}|\[::1\])$|\.localhost$/;

/**
 * Dev mode trusts any declared identity, so it serves browsers only on pages of this machine:
 * no `Origin` (not a browser), or one on a loopback host. Throws `forbidden` for any other,
 * including `null` (a sandboxed frame or a file).
 */
export function requireLocalOrigin(origin: string | null): void {
  if (origin === null) return;
  let host = "";
  try {
    host = new URL(origin).hostname;
  } catch {
    // "null" and other opaque origins have no host.
  }
  if (LOOPBACK_HOST.test(host)) return;
  throw new EdgeMQError(
    ERROR_CODE.forbidden,
    `dev mode serves browser pages from localhost only, not ${origin.slice(0, 200)}: serve the page locally, or set EDGEMQ_SECRET and use tokens`,
  );
}

/** Throws `forbidden` unless the principal has `role`. */
export function requireRole(principal: Principal, role: TokenRole): void {
  if (!principal.roles.has(role)) {
    throw new EdgeMQError(ERROR_CODE.forbidden, `this token does not allow the ${role} role`);
  }
}

/** Throws `forbidden` unless the principal may use `queue`. */
export function requireQueue(principal: Principal, queue: string): void {
  if (!allowsQueue(principal, queue)) {
    throw new EdgeMQError(ERROR_CODE.forbidden, `this token does not allow queue ${queue}`);
  }
}

async function tokenPrincipal(request: Request, secrets: readonly string[]): Promise<Principal> {
  const token = presentedToken(request);
  if (token === undefined) {
    throw new EdgeMQError(
      ERROR_CODE.unauthorized,
      `a token is required: Authorization: Bearer <token>, or the WebSocket subprotocol ${TOKEN_SUBPROTOCOL_PREFIX}<token> (in the SDK: connect(url, { token }))`,
    );
  }
  const result = await verifyToken(token, secrets, Date.now());
  if (!result.ok) throw result.error;
  const claimed = declaredIdentity(request);
  if (claimed !== undefined && claimed !== result.value.identity) {
    throw new EdgeMQError(ERROR_CODE.forbidden, "identity claim does not match the token");
  }
  return result.value;
}

/** The token from the Authorization header, or from the token subprotocol. */
export function presentedToken(request: Request): string | undefined {
  const authorization = request.headers.get("Authorization");
  if (authorization !== null) return bearerToken(authorization);
  for (const protocol of offeredSubprotocols(request)) {
    if (protocol.startsWith(TOKEN_SUBPROTOCOL_PREFIX)) {
      return protocol.slice(TOKEN_SUBPROTOCOL_PREFIX.length);
    }
  }
  return undefined;
}

/**
 * The token of an Authorization header, `Bearer <token>` (the scheme in any case; whitespace
 * around the value ignored: workerd keeps a trailing space that curl sent). Any other value is
 * refused with the form the relay wants, not "a token is required" when one was sent.
 */
function bearerToken(authorization: string): string {
  const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
  if (match?.[1] === undefined) {
    const message = "Authorization must be Bearer followed by the token alone";
    throw new EdgeMQError(ERROR_CODE.unauthorized, message);
  }
  return match[1];
}

/**
 * A peer that offers subprotocols must offer `edgemq` among them: the relay answers no other, and
 * a WebSocket client fails a handshake whose offers get no answer, after the relay accepted it,
 * with a message that does not say why (a browser shows only 1006). Refused here instead.
 */
function requireEdgemqOffered(request: Request): void {
  const offered = offeredSubprotocols(request);
  if (offered.length === 0 || offered.includes(SUBPROTOCOL)) return;
  throw new EdgeMQError(
    ERROR_CODE.badRequest,
    `offer the "${SUBPROTOCOL}" WebSocket subprotocol beside any other (Sec-WebSocket-Protocol: ${SUBPROTOCOL}, ...)`,
  );
}

export function offeredSubprotocols(request: Request): string[] {
  const header = request.headers.get("Sec-WebSocket-Protocol");
  if (header === null) return [];
  return header
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
}

/**
 * An identity the peer claims by header or query (both, when given, must agree); `bad_request`
 * when malformed or when the two differ.
 */
function declaredIdentity(request: Request): string | undefined {
  const header = request.headers.get(HEADERS.identity) || undefined;
  const query = queryIdentity(request);
  if (header !== undefined && query !== undefined && header !== query) {
    const message = `the ${HEADERS.identity} header and ?identity= name different identities`;
    throw new EdgeMQError(ERROR_CODE.badRequest, message);
  }
  const declared = header ?? query;
  if (declared === undefined) return undefined;
  if (!isIdentity(declared)) {
    const message = `identity must be ${IDENTITY_RULE}`;
    throw new EdgeMQError(ERROR_CODE.badRequest, message);
  }
  return declared;
}

/**
 * `?identity=`, refused with a hint when a `+` of it was read as a space (a query's `+` is one:
 * `?identity=a+b` names `a b`, and the identity `a+b` is `?identity=a%2Bb`), as `?poller=` is.
 */
function queryIdentity(request: Request): string | undefined {
  const query = new URL(request.url).searchParams.get("identity") || undefined;
  if (query?.includes(" ") && isIdentity(query.replaceAll(" ", "+"))) {
    const message = `identity must be ${IDENTITY_RULE}; a + in a query reads as a space: write it %2B`;
    throw new EdgeMQError(ERROR_CODE.badRequest, message);
  }
  return query;
}
