/**
 * Reads why a socket closed: the relay's close codes and the HTTP status of a refused upgrade
 * become the EdgeMQError a connection ends with, or undefined when a reconnect may help.
 * Pure; used by connection.ts.
 */
import { CLOSE_CODE, EdgeMQError, ERROR_CODE, type ErrorCode } from "../protocol/index.js";

/** The error that ends a connection for good, or undefined when it should reconnect. */
export function closeFailure(
  code: number,
  httpStatus: number | undefined,
): EdgeMQError | undefined {
  if (code === CLOSE_CODE.replaced) {
    return new EdgeMQError(ERROR_CODE.closed, "replaced by a newer connection of this identity");
  }
  const errorCode = fromCloseCode(code) ?? fromHttpStatus(httpStatus);
  if (errorCode === undefined) return undefined;
  const source = httpStatus === undefined ? `close code ${code}` : `HTTP ${httpStatus}`;
  return new EdgeMQError(errorCode, `the relay refused the connection (${source})`);
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
