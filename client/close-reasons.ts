/**
 * Reads why a socket closed: the relay's close codes and the HTTP status of a refused upgrade
 * become the EdgeMQError a connection ends with, or undefined when a reconnect may help. A bare
 * 1006 may hide a refusal (mayHideRefusal); the relay's answer over HTTP then tells (refusalOf).
 * Pure; used by connection.ts.
 */
import { CLOSE_CODE, EdgeMQError, ERROR_CODE, type ErrorCode } from "../protocol/index.js";

/**
 * The error that ends a connection for good, or undefined when it should reconnect. `reason` is
 * the close frame's reason; `lastError` the socket's last error message, which names the relay's
 * reason for a refused upgrade where the platform lets the SDK read it (Node: websocket.ts).
 */
export function closeFailure(
  code: number,
  httpStatus: number | undefined,
  reason = "",
  lastError = "",
): EdgeMQError | undefined {
  if (code === CLOSE_CODE.replaced) {
    return new EdgeMQError(ERROR_CODE.closed, "replaced by a newer connection of this identity");
  }
  const byClose = fromCloseCode(code);
  if (byClose !== undefined) {
    const why = reason === "" ? "" : `: ${reason}`;
    return new EdgeMQError(byClose, `the relay closed the connection (close code ${code}${why})`);
  }
  const byStatus = fromHttpStatus(httpStatus);
  if (byStatus === undefined) return undefined;
  const why = refusalReason(lastError);
  const detail = why === undefined ? "" : `: ${why}`;
  return new EdgeMQError(
    byStatus,
    `the relay refused the connection (HTTP ${httpStatus}${detail})`,
  );
}

/** The relay's reason in a refused upgrade's error message ("...response: 403: <reason>"). */
function refusalReason(message: string): string | undefined {
  return /server response: \d{3}: (.+)$/is.exec(message)?.[1];
}

function fromCloseCode(code: number): ErrorCode | undefined {
  switch (code) {
    case CLOSE_CODE.unauthorized:
      return ERROR_CODE.unauthorized;
    case CLOSE_CODE.forbidden:
      return ERROR_CODE.forbidden;
    case CLOSE_CODE.badRequest:
      return ERROR_CODE.badRequest;
    default:
      return undefined;
  }
}

function fromHttpStatus(status: number | undefined): ErrorCode | undefined {
  switch (status) {
    case 400:
      return ERROR_CODE.badRequest;
    case 401:
      return ERROR_CODE.unauthorized;
    case 403:
      return ERROR_CODE.forbidden;
    case 404:
      return ERROR_CODE.notFound;
    default:
      return undefined;
  }
}

/**
 * Whether a socket's close may hide a refused upgrade: browsers, Deno, Bun and Node 22's global
 * WebSocket report any failed handshake (401 and 403 included) as a bare 1006, without its status.
 */
export function mayHideRefusal(code: number, httpStatus: number | undefined): boolean {
  return code === ABNORMAL_CLOSE && httpStatus === undefined;
}

/**
 * The relay's answer to the same credentials over HTTP (`GET /v1/whoami`) when it ends a
 * connection for good: a bad request, a bad or expired token, no permission. Anything else
 * (`closed` after a network error, `not_found` from an older relay, ...) may pass: undefined.
 */
export function refusalOf(error: EdgeMQError | undefined): EdgeMQError | undefined {
  if (error === undefined) return undefined;
  return REFUSALS.has(error.code) ? error : undefined;
}

/** The close code a WebSocket reports when the connection ended without a close frame. */
const ABNORMAL_CLOSE = 1006;

const REFUSALS = new Set<string>([
  ERROR_CODE.badRequest,
  ERROR_CODE.unauthorized,
  ERROR_CODE.forbidden,
]);

/** The HTTP status in a failed upgrade's error event (the `ws` package names it in the message). */
export function httpStatusOf(event: { readonly message?: unknown }): number | undefined {
  const message = event.message;
  if (typeof message !== "string") return undefined;
  const match = /server response: (\d{3})/i.exec(message);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

export function describeClose(code: number, reason: string): string {
  return reason === "" ? `closed with code ${code}` : `closed with code ${code} (${reason})`;
}
