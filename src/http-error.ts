/**
 * The one place an EdgeMQError becomes an HTTP response: JSON `{"error":{"code","message"}}` with
 * the status from HTTP_STATUS (or an explicit one, e.g. 426 when an upgrade is missing). Never a
 * stack trace. Used by the front door (app.ts, routes) and by the Durable Objects' `fetch`.
 */
import { EdgeMQError, ERROR_CODE } from "../protocol/index.js";

/** Status for a request that should have been a WebSocket upgrade. */
export const UPGRADE_REQUIRED = 426;

export function errorResponse(error: EdgeMQError, status: number = error.httpStatus): Response {
  return new Response(JSON.stringify({ error: error.toWire() }), {
    status,
    headers: { "content-type": "application/json; charset=utf-8" },
  });
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
