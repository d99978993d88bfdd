/**
 * The principal as plain data, for the two places it leaves the front door's memory: the
 * `X-EdgeMQ-Principal` header (JSON) on a forwarded upgrade, and the Durable Objects' socket
 * attachments. Read back as `unknown` and validated (bounded queue list), never cast. Used by
 * src/routes (encode), durable-objects/exchange and durable-objects/queue (decode).
 */
import {
  isIdentity,
  isRecord,
  MAX_TOKEN_QUEUES,
  type Principal,
  TOKEN_ROLES,
  type TokenRole,
} from "../../protocol/index.js";
import { NEVER_EXPIRES } from "./token-expiry.js";

/** The principal's rights, as stored on a socket: plain arrays, structured-cloneable. */
export interface StoredPrincipal {
  roles: TokenRole[];
  /** Queue patterns: exact names, or a prefix ending in `*`. */
  queues: string[];
  /** Token expiry, epoch milliseconds. */
  expiresAt: number;
}

/** Longest queue pattern: a 128-character name plus a trailing `*`. */
const MAX_PATTERN_CHARS = 129;

/** Dev mode (no secret): the identity a peer declares, every role and queue, no expiry. */
export function devPrincipal(identity: string): Principal {
  return {
    identity,
    roles: new Set<TokenRole>(TOKEN_ROLES),
    queues: ["*"],
    expiresAt: NEVER_EXPIRES,
  };
}

export function storePrincipal(principal: Principal): StoredPrincipal {
  return {
    roles: [...principal.roles],
    queues: [...principal.queues],
    expiresAt: principal.expiresAt,
  };
}

export function principalOf(identity: string, stored: StoredPrincipal): Principal {
  return {
    identity,
    roles: new Set(stored.roles),
    queues: stored.queues,
    expiresAt: stored.expiresAt,
  };
}

/** Validates stored rights read back from an attachment; `undefined` when malformed. */
export function readStoredPrincipal(value: unknown): StoredPrincipal | undefined {
  if (!isRecord(value)) return undefined;
  const { roles, queues, expiresAt } = value;
  if (!Array.isArray(roles) || roles.length === 0) return undefined;
  const readRoles: TokenRole[] = [];
  for (const role of roles) {
    const known = TOKEN_ROLES.find((r) => r === role);
    if (known === undefined) return undefined;
    readRoles.push(known);
  }
  if (!Array.isArray(queues) || queues.length > MAX_TOKEN_QUEUES) return undefined;
  const readQueues: string[] = [];
  for (const pattern of queues) {
    if (typeof pattern !== "string" || pattern.length > MAX_PATTERN_CHARS) return undefined;
    readQueues.push(pattern);
  }
  if (typeof expiresAt !== "number" || !Number.isFinite(expiresAt)) return undefined;
  return { roles: readRoles, queues: readQueues, expiresAt };
}

/** The header value the front door sets: `{identity, roles, queues, expiresAt}` as JSON. */
export function encodePrincipalHeader(principal: Principal): string {
  return JSON.stringify({ identity: principal.identity, ...storePrincipal(principal) });
}

/** The principal in a header value; `undefined` when absent or malformed. */
export function decodePrincipalHeader(value: string | null): Principal | undefined {
  if (value === null) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return undefined;
  }
  if (!isRecord(parsed) || !isIdentity(parsed.identity)) return undefined;
  const stored = readStoredPrincipal(parsed);
  return stored === undefined ? undefined : principalOf(parsed.identity, stored);
}

/**
 * The principal of an upgrade the front door forwarded with `identity`: the header's, which must
 * name the same identity. Without the header (a front door older than tokens, or a test calling
 * the object directly): a dev principal in dev mode, none otherwise (the object refuses).
 */
export function forwardedPrincipal(
  header: string | null,
  identity: string,
  devMode: boolean,
): Principal | undefined {
  if (header === null) return devMode ? devPrincipal(identity) : undefined;
  const principal = decodePrincipalHeader(header);
  return principal?.identity === identity ? principal : undefined;
}
