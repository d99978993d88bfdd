/**
 * Pure rules for tokens that expire on a live connection: when a stored expiry counts as passed
 * (with the same clock skew the front door allows), the next moment an object must wake to close
 * a socket, the close reason, and how long a long-poll may wait within its token. A dev-mode
 * principal never expires. Used by both objects and the front door's long-polls.
 */
import { TOKEN_SKEW_SECONDS } from "../../protocol/index.js";

/** Close reason for a socket whose token expired (with CLOSE_CODE.unauthorized). */
export const TOKEN_EXPIRED_REASON = "token expired";
/** Close reason for a socket whose state predates tokens, outside dev mode. */
export const RECONNECT_REASON = "connection predates token checks; reconnect with a token";

/** The expiry of a principal that never expires (dev mode). */
export const NEVER_EXPIRES = Number.MAX_SAFE_INTEGER;

const SKEW_MS = TOKEN_SKEW_SECONDS * 1000;

/** The moment a connection whose token expires at `expiresAt` must close; undefined: never. */
export function closeAt(expiresAt: number): number | undefined {
  return expiresAt >= NEVER_EXPIRES ? undefined : expiresAt + SKEW_MS;
}

/**
 * `waitMs` cut so a long-poll (an HTTP take or outcome poll) ends by the moment its caller's token
 * no longer holds: a take that went on waiting was handed requests after its token expired, which
 * its server could then neither answer nor extend (the request waited out its lease).
 */
export function waitWithinToken(waitMs: number, expiresAt: number, now: number): number {
  const at = closeAt(expiresAt);
  return at === undefined ? waitMs : Math.max(0, Math.min(waitMs, at - now));
}

/** Whether a token that expires at `expiresAt` no longer holds at `now`. */
export function tokenExpired(expiresAt: number, now: number): boolean {
  const at = closeAt(expiresAt);
  return at !== undefined && now >= at;
}

/** The earliest future close moment among `expiries`, to set an alarm for; undefined: none. */
export function nextExpiry(expiries: Iterable<number>, now: number): number | undefined {
  let next: number | undefined;
  for (const expiresAt of expiries) {
    const at = closeAt(expiresAt);
    if (at === undefined || at <= now) continue;
    if (next === undefined || at < next) next = at;
  }
  return next;
}

/** The earliest of some optional times: an expiry and the object's other timers share one alarm. */
export function earliest(...times: (number | undefined)[]): number | undefined {
  let first: number | undefined;
  for (const t of times) if (t !== undefined && (first === undefined || t < first)) first = t;
  return first;
}

/**
 * Why a connection whose token expires at `expiresAt` may no longer act at `now`, or undefined
 * when it still may. No expiry at all: the socket predates token checks (fine in dev mode only).
 */
export function connectionRefusal(
  expiresAt: number | undefined,
  devMode: boolean,
  now: number,
): string | undefined {
  if (expiresAt === undefined) return devMode ? undefined : RECONNECT_REASON;
  return tokenExpired(expiresAt, now) ? TOKEN_EXPIRED_REASON : undefined;
}
