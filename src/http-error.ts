/**
 * The one place an EdgeMQError becomes an HTTP response: JSON `{"error":{"code","message"}}` with
 * the status from HTTP_STATUS (or an explicit one, e.g. 426 when an upgrade is missing). Never a
 * stack trace. Used by the front door (app.ts, routes) and by the Durable Objects' `fetch`.
 */
import { EdgeMQError, ERROR_CODE } from "../protocol/index.js";

/** Status for a request that should have been a WebSocket upgrade. */
export const UPGRADE_REQUIRED = 426;

/**
 * The challenge a 401 carries (RFC 9110 §11.6.1 requires one; RFC 6750 names the scheme): a
 * bearer token, and `invalid_token` when one was given and refused.
 */
function challenge(tokenGiven: boolean): string {
  return tokenGiven ? 'Bearer realm="edgemq", error="invalid_token"' : 'Bearer realm="edgemq"';
}

export function errorResponse(
  error: EdgeMQError,
  status: number = error.httpStatus,
  request?: Request,
): Response {
  const headers: Record<string, string> = { "content-type": "application/json; charset=utf-8" };
  if (status === 401) {
    const given = request?.headers.has("Authorization") === true;
    headers["WWW-Authenticate"] = challenge(given);
  }
  return new Response(JSON.stringify({ error: error.toWire() }), { status, headers });
}

/** True when `request` asks for a WebSocket upgrade. */
export function isWebSocketUpgrade(request: Request): boolean {
  return request.headers.get("Upgrade")?.toLowerCase() === "websocket";
}

/** The 426 answer to a plain HTTP request on a WebSocket route. */
export function upgradeRequired(): Response {
  return errorResponse(
    new EdgeMQError(ERROR_CODE.badRequest, "this route needs a WebSocket upgrade"),
    UPGRADE_REQUIRED,
  );
}
