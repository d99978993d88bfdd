/**
 * Every error code EdgeMQ puts on the wire, the HTTP status each maps to (once, here), and the
 * EdgeMQError class both the relay and the SDK throw. A code travels as a string in `error` frames
 * and HTTP error bodies; the receiving side rebuilds the same class with `EdgeMQError.fromWire`.
 */

export const ERROR_CODE = {
  /** A malformed or unknown frame, a bad queue name, a bad option value. */
  badRequest: "bad_request",
  /** No valid token (or no identity in dev mode). */
  unauthorized: "unauthorized",
  /** A valid identity that may not do this (wrong queue, wrong role, not its request). */
  forbidden: "forbidden",
  /** An unknown request id or route. */
  notFound: "not_found",
  /** The request was already answered. */
  conflict: "conflict",
  /** The request's deadline passed before this reply arrived. */
  expired: "expired",
  /** A body over the relay's size limit. */
  tooLarge: "too_large",
  /** The queue holds its maximum number of requests. */
  queueFull: "queue_full",
  /** This client identity already has its maximum number of requests in flight. */
  tooManyInFlight: "too_many_in_flight",
  /** Per-identity rate limit. */
  rateLimited: "rate_limited",
  /** No server was connected to the queue at any moment of the request's life. */
  noResponders: "no_responders",
  /** The request's deadline passed. */
  timeout: "timeout",
  /** The handler threw, or the request was redelivered too many times. */
  serverError: "server_error",
  /** The request was cancelled by its client. */
  cancelled: "cancelled",
  /** The connection (or the SDK peer) is closed. */
  closed: "closed",
  /** A fault inside the relay; details are logged, never sent. */
  internal: "internal",
} as const;

/** One of the codes in ERROR_CODE: a union, so a `switch` on `error.code` can be exhaustive. */
export type ErrorCode = (typeof ERROR_CODE)[keyof typeof ERROR_CODE];

const ERROR_CODES: ReadonlySet<string> = new Set(Object.values(ERROR_CODE));

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && ERROR_CODES.has(value);
}

/** The one mapping from error code to HTTP status. */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  expired: 410,
  too_large: 413,
  queue_full: 429,
  too_many_in_flight: 429,
  rate_limited: 429,
  server_error: 502,
  no_responders: 503,
  closed: 503,
  timeout: 504,
  cancelled: 499,
  internal: 500,
};

/** The shape of an error on the wire (inside an `error` frame, or an HTTP error body). */
export interface WireError {
  /** What happened: one of ERROR_CODE's values. */
  code: ErrorCode;
  /** A short why, never a stack trace or internal details. */
  message: string;
}

/**
 * How every request fails and every refusal is thrown, in the SDK and the relay: `code` says what
 * happened (README, "How requests end"), `message` a short why. Test with `instanceof EdgeMQError`
 * or isEdgeMQError().
 */
export class EdgeMQError extends Error {
  /** Always "EdgeMQError". */
  override readonly name = "EdgeMQError";
  /** What happened: one of ERROR_CODE's values. */
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  /** The HTTP status the relay's HTTP API answers this code with (e.g. 504 for `timeout`). */
  get httpStatus(): number {
    return HTTP_STATUS[this.code];
  }

  /** The error as it travels: `{ code, message }`. */
  toWire(): WireError {
    return { code: this.code, message: this.message };
  }

  static fromWire(wire: WireError): EdgeMQError {
    return new EdgeMQError(wire.code, wire.message);
  }

  /** Wraps anything thrown into an EdgeMQError; unknown faults become `internal` with no details. */
  static from(error: unknown): EdgeMQError {
    if (error instanceof EdgeMQError) return error;
    return new EdgeMQError(ERROR_CODE.internal, "internal error", { cause: error });
  }
}

/**
 * Whether `value` is an EdgeMQError (a type guard, e.g. for a `catch (error: unknown)`), also one
 * made by another copy of the SDK (a library's own edgemq, the browser bundle beside the module,
 * another realm), which `instanceof` does not recognise: an Error named "EdgeMQError" with a
 * known `code`.
 */
export function isEdgeMQError(value: unknown): value is EdgeMQError {
  if (value instanceof EdgeMQError) return true;
  if (!(value instanceof Error) || value.name !== "EdgeMQError") return false;
  return isErrorCode((value as { code?: unknown }).code);
}
