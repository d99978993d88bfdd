/**
 * Peer tokens: HS256 JSON Web Tokens carrying `sub` (the identity), `role` (client, server or
 * both), `queues` (names, a trailing `*` matching a prefix), `exp` and an optional `nbf`. Minted by `edgemq token`
 * (operators) and verified by the front door. WebCrypto only, so it runs in Workers and Node alike.
 * Only HS256 is accepted: `alg: none` and every other algorithm are refused.
 */
import { EdgeMQError, ERROR_CODE } from "./errors.js";
import { err, ok, type Result } from "./result.js";
import { isIdentity, isQueueName, isRecord } from "./validate.js";

export const TOKEN_ROLES = ["client", "server"] as const;
export type TokenRole = (typeof TOKEN_ROLES)[number];

export interface Principal {
  identity: string;
  roles: ReadonlySet<TokenRole>;
  /** Queue patterns: exact names, or a prefix ending in `*`. */
  queues: readonly string[];
  /** Expiry, epoch milliseconds. */
  expiresAt: number;
}

export interface TokenClaims {
  sub: string;
  role: TokenRole | "both" | TokenRole[];
  queues: string[];
  /** Expiry, epoch seconds. */
  exp: number;
  iat?: number;
  /** Not valid before, epoch seconds (the relay allows TOKEN_SKEW_SECONDS of clock skew). */
  nbf?: number;
}

/** Clock skew tolerated on `exp`, in seconds. */
export const TOKEN_SKEW_SECONDS = 30;
/** Longest token accepted, in characters. */
export const MAX_TOKEN_CHARS = 4096;
/** Most queue patterns one token may list (keeps socket attachments small). */
export const MAX_TOKEN_QUEUES = 100;
/**
 * Shortest signing secret (EDGEMQ_SECRET) a relay takes, and the CLI signs with, in characters:
 * an HS256 key must be at least 256 bits (RFC 7518 §3.2), and anyone holding one token can test
 * guesses of a short secret offline against its signature, as fast as they can compute HMACs.
 */
export const MIN_SECRET_CHARS = 32;

/** What is wrong with `secret` as a signing secret (too short), or undefined when nothing. */
export function secretProblem(secret: string): string | undefined {
  if (secret.length >= MIN_SECRET_CHARS) return undefined;
  return `EDGEMQ_SECRET is ${secret.length} characters: a relay takes ${MIN_SECRET_CHARS} or more (an HS256 key, RFC 7518 §3.2; anyone holding a token can guess a short secret offline). Make one with: openssl rand -base64 32`;
}

/** The latest time a JavaScript Date holds (ms); a later `exp` cannot be a real expiry. */
const MAX_DATE_MS = 8.64e15;
/**
 * An `exp` from this many seconds on (the year 5138) is a time in milliseconds, as `Date.now()`
 * gives (1.8e12 now): read as seconds it would be a token that never expires.
 */
const MILLISECONDS_LIKE_EXP = 1e11;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64url(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return undefined;
  const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
  try {
    const binary = atob(padded);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
  } catch {
    return undefined;
  }
}

async function hmacKey(secret: string) {
  return crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign", "verify"],
  );
}

/** Signs claims into a compact HS256 JWT. */
export async function signToken(claims: TokenClaims, secret: string): Promise<string> {
  const header = base64url(encoder.encode(JSON.stringify({ alg: "HS256", typ: "JWT" })));
  const payload = base64url(encoder.encode(JSON.stringify(claims)));
  const signature = await crypto.subtle.sign(
    "HMAC",
    await hmacKey(secret),
    encoder.encode(`${header}.${payload}`),
  );
  return `${header}.${payload}.${base64url(new Uint8Array(signature))}`;
}

function unauthorized(message: string): Result<Principal, EdgeMQError> {
  return err(new EdgeMQError(ERROR_CODE.unauthorized, message));
}

function decodeJson(part: string): unknown {
  const bytes = fromBase64url(part);
  if (!bytes) return undefined;
  try {
    return JSON.parse(decoder.decode(bytes));
  } catch {
    return undefined;
  }
}

/**
 * The identity a token names (its `sub`), read without checking its signature: for a peer to
 * check that a renewed token is its own (the relay checks the rest).
 */
export function tokenSubject(token: string): string | undefined {
  const payload = unverifiedPayload(token);
  return isRecord(payload) && isIdentity(payload.sub) ? payload.sub : undefined;
}

/**
 * Whether a token's `exp` has passed by `now` (epoch ms), with the relay's clock-skew allowance,
 * read without checking its signature: a peer need not take a token the relay would refuse.
 */
export function tokenExpired(token: string, now: number): boolean {
  const payload = unverifiedPayload(token);
  const exp = isRecord(payload) ? payload.exp : undefined;
  return typeof exp === "number" && exp * 1000 + TOKEN_SKEW_SECONDS * 1000 < now;
}

function unverifiedPayload(token: string): unknown {
  const payloadPart = token.length > MAX_TOKEN_CHARS ? undefined : token.split(".")[1];
  return payloadPart === undefined ? undefined : decodeJson(payloadPart);
}

/**
 * Verifies a token's signature and claims; `now` is epoch milliseconds. `secret` may be a list
 * (the relay's current secret, then the one it replaces while a rotation runs): a signature by
 * any of them is valid.
 */
export async function verifyToken(
  token: string,
  secret: string | readonly string[],
  now: number,
): Promise<Result<Principal, EdgeMQError>> {
  if (token.length > MAX_TOKEN_CHARS) return unauthorized("token too long");
  const parts = token.split(".");
  const [headerPart, payloadPart, signaturePart] = parts;
  if (parts.length !== 3 || !headerPart || !payloadPart || signaturePart === undefined) {
    return unauthorized("token is not a JWT");
  }
  const header = decodeJson(headerPart);
  if (!isRecord(header)) return unauthorized("token is not a JWT (its header is not JSON)");
  if (header.alg !== "HS256") return unauthorized("token must use HS256");
  // RFC 7515 §4.1.11: a `crit` header names extensions the verifier must understand; none is.
  if (header.crit !== undefined) return unauthorized("token header crit is not supported");
  const signature = fromBase64url(signaturePart);
  if (signature === undefined) return unauthorized("bad token signature");
  if (signature.length !== 32) return unauthorized("bad token signature");
  const signed = encoder.encode(`${headerPart}.${payloadPart}`);
  let valid = false;
  for (const key of typeof secret === "string" ? [secret] : secret) {
    valid = await crypto.subtle.verify("HMAC", await hmacKey(key), signature, signed);
    if (valid) break;
  }
  if (!valid) return unauthorized("bad token signature");
  return readClaims(decodeJson(payloadPart), now);
}

function readRoles(role: unknown): Set<TokenRole> | undefined {
  if (role === "both") return new Set(TOKEN_ROLES);
  const list = Array.isArray(role) ? role : [role];
  const roles = new Set<TokenRole>();
  for (const r of list) {
    if (r !== "client" && r !== "server") return undefined;
    roles.add(r);
  }
  return roles.size > 0 ? roles : undefined;
}

function readClaims(payload: unknown, now: number): Result<Principal, EdgeMQError> {
  if (!isRecord(payload)) return unauthorized("token payload is not an object");
  const { sub, role, queues, exp, nbf } = payload;
  if (!isIdentity(sub)) return unauthorized("token sub must be an identity");
  const roles = readRoles(role);
  if (!roles) return unauthorized("token role must be client, server or both");
  if (!Array.isArray(queues) || !queues.every((q) => typeof q === "string" && isQueuePattern(q))) {
    return unauthorized("token queues must be a list of queue names, or prefixes ending in *");
  }
  if (queues.length > MAX_TOKEN_QUEUES) {
    return unauthorized(`token lists more than ${MAX_TOKEN_QUEUES} queue patterns`);
  }
  if (typeof exp !== "number" || !Number.isFinite(exp)) return unauthorized("token has no exp");
  const expRefusal = expProblem(exp, now);
  if (expRefusal !== undefined) return unauthorized(expRefusal);
  if (nbf !== undefined && (typeof nbf !== "number" || !Number.isFinite(nbf))) {
    return unauthorized("token nbf must be a number of seconds");
  }
  if (nbf !== undefined && nbf * 1000 - TOKEN_SKEW_SECONDS * 1000 > now) {
    return unauthorized("token not valid yet (nbf)");
  }
  return ok({ identity: sub, roles, queues: queues as string[], expiresAt: exp * 1000 });
}

/** Why a token whose `exp` (epoch seconds) is `exp` does not hold at `now` (ms), if it does not. */
function expProblem(exp: number, now: number): string | undefined {
  if (exp * 1000 > MAX_DATE_MS) return "token exp is past any date";
  if (exp >= MILLISECONDS_LIKE_EXP) {
    return "token exp looks like milliseconds: exp is a time in epoch seconds";
  }
  if (exp * 1000 + TOKEN_SKEW_SECONDS * 1000 < now) return "token expired";
  return undefined;
}

/**
 * A token queue pattern: a queue name, or a prefix of one followed by `*` (`*` alone: every
 * queue), as allowsQueue reads them.
 */
export function isQueuePattern(pattern: string): boolean {
  if (!pattern.endsWith("*")) return isQueueName(pattern);
  const prefix = pattern.slice(0, -1);
  return prefix === "" || /^[A-Za-z0-9._-]{1,128}$/.test(prefix);
}

/** Whether a principal's queue patterns allow `queue`. */
export function allowsQueue(principal: Pick<Principal, "queues">, queue: string): boolean {
  return principal.queues.some((pattern) =>
    pattern.endsWith("*") ? queue.startsWith(pattern.slice(0, -1)) : pattern === queue,
  );
}
