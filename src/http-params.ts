/**
 * Path and query parameters of the HTTP API, validated strictly: the queue name and request id
 * in the path (`bad_request` when malformed), `wait` (long-poll milliseconds, 0 to
 * MAX_WAIT_MS), `timeout` (request deadline in milliseconds, 1 to the relay's maxTimeoutMs),
 * `lease` (the lease an HTTP server asks for, in milliseconds, granted within 1,000 to leaseMs) and
 * boolean flags (`async`, `failFast`: true/false/1/0), and an outcome poll's `poller` tag (also
 * the `EdgeMQ-Poller` header) and `after` cursor. Anything else (signs, decimals, exponents,
 * spaces, values over the maximum) is `bad_request`. Also the `EdgeMQ-Headers` header (a
 * request's or reply's own headers) and a lease call's `{"ids": [...]}` body. Pure; used by
 * routes/http-*.ts.
 */
import { grantedLeaseMs, MIN_ASKED_LEASE_MS } from "../durable-objects/shared/http-contracts.js";
import {
  decodeHeadersHeader,
  EdgeMQError,
  ERROR_CODE,
  type Headers,
  headersOverLimits,
  isQueueName,
  isRequestId,
  type Limits,
  QUEUE_NAME_RULE,
  REQUEST_ID_RULE,
} from "../protocol/index.js";

/** Longest a single long-poll (`take`, or `GET /v1/requests/{id}`) may wait. */
export const MAX_WAIT_MS = 60_000;

const DIGITS = /^(0|[1-9][0-9]{0,15})$/;

/** `wait` in milliseconds; `fallback` when absent. */
export function readWait(value: string | undefined, fallback = 0): number {
  if (value === undefined) return fallback;
  const n = readInteger(value);
  if (n === undefined || n > MAX_WAIT_MS) {
    throw new EdgeMQError(
      ERROR_CODE.badRequest,
      `wait must be an integer number of milliseconds from 0 to ${MAX_WAIT_MS}`,
    );
  }
  return n;
}

/** An outcome poll's `after` cursor: a non-negative integer; 0 when absent. */
export function readAfter(value: string | undefined): number {
  if (value === undefined) return 0;
  const n = readInteger(value);
  if (n === undefined) {
    throw new EdgeMQError(
      ERROR_CODE.badRequest,
      "after must be a non-negative integer: the after of the previous answer, or 0",
    );
  }
  return n;
}

/**
 * A poller tag (`?poller=` of GET /v1/outcomes, or the `EdgeMQ-Poller` header of a POST), named
 * `name` in the refusal: a request id's rule.
 */
export function readPoller(value: string | undefined, name: string): string {
  if (isRequestId(value)) return value;
  const message =
    value === undefined
      ? `${name} is required: ${REQUEST_ID_RULE}`
      : `${name} must be ${REQUEST_ID_RULE}`;
  throw new EdgeMQError(ERROR_CODE.badRequest, message);
}

/**
 * `?poller=` of GET /v1/outcomes: readPoller, saying so when a `+` of the tag was read as a space
 * (a query's `+` is one: `?poller=a+b` names `a b`; the tag `a+b` is `?poller=a%2Bb`).
 */
export function readPollerParam(value: string | undefined): string {
  if (value?.includes(" ") && isRequestId(value.replaceAll(" ", "+"))) {
    const message = `poller must be ${REQUEST_ID_RULE}; a + in a query reads as a space: write it %2B`;
    throw new EdgeMQError(ERROR_CODE.badRequest, message);
  }
  return readPoller(value, "poller");
}

/** `timeout` in milliseconds; undefined when absent (the relay's default applies). */
export function readTimeout(value: string | undefined, maxTimeoutMs: number): number | undefined {
  if (value === undefined) return undefined;
  const n = readInteger(value);
  if (n === undefined || n < 1 || n > maxTimeoutMs) {
    throw new EdgeMQError(
      ERROR_CODE.badRequest,
      `timeout must be an integer number of milliseconds from 1 to ${maxTimeoutMs}`,
    );
  }
  return n;
}

/**
 * `lease` of a take or lease call: the lease (ms) the server asks for, granted within
 * [MIN_ASKED_LEASE_MS, leaseMs] (an integer outside is brought within: a server need not know the
 * relay's leaseMs); undefined when absent (the lease is leaseMs). Anything but an integer is
 * `bad_request`.
 */
export function readLease(value: string | undefined, leaseMs: number): number | undefined {
  if (value === undefined) return undefined;
  const n = readInteger(value);
  if (n === undefined) {
    const low = Math.min(MIN_ASKED_LEASE_MS, leaseMs);
    throw new EdgeMQError(
      ERROR_CODE.badRequest,
      `lease must be an integer number of milliseconds; the relay grants ${low} to ${leaseMs}`,
    );
  }
  return grantedLeaseMs(n, leaseMs);
}

/** A boolean flag: true/1 or false/0; `false` when absent. */
export function readFlag(value: string | undefined, name: string): boolean {
  if (value === undefined) return false;
  if (value === "true" || value === "1") return true;
  if (value === "false" || value === "0") return false;
  throw new EdgeMQError(ERROR_CODE.badRequest, `${name} must be true or false`);
}

function readInteger(value: string): number | undefined {
  if (!DIGITS.test(value)) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** The `:queue` path parameter, or `bad_request`. */
export function readQueue(value: string | undefined): string {
  if (!isQueueName(value)) {
    throw new EdgeMQError(ERROR_CODE.badRequest, `queue must be ${QUEUE_NAME_RULE}`);
  }
  return value;
}

/** The `:id` path parameter, or `bad_request`. */
export function readRequestId(value: string | undefined): string {
  if (!isRequestId(value)) {
    throw new EdgeMQError(ERROR_CODE.badRequest, `id must be ${REQUEST_ID_RULE}`);
  }
  return value;
}

/** The `EdgeMQ-Headers` of a call, within the relay's limits; undefined when absent or `{}`. */
export function readFrameHeaders(
  value: string | undefined,
  limits: Pick<Limits, "maxHeaders" | "maxHeaderBytes">,
): Headers | undefined {
  if (value === undefined) return undefined;
  const headers = decodeHeadersHeader(value);
  if (typeof headers === "string") throw new EdgeMQError(ERROR_CODE.badRequest, headers);
  const over = headersOverLimits(headers, limits);
  if (over !== undefined) throw new EdgeMQError(ERROR_CODE.badRequest, over);
  return Object.keys(headers).length > 0 ? headers : undefined;
}

/** The ids of a lease call's body, `{"ids": [...]}`: 1 to `max` request ids. */
export function readLeaseIds(text: string, max: number): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const ids: unknown =
    typeof parsed === "object" && parsed !== null ? Reflect.get(parsed, "ids") : undefined;
  if (!Array.isArray(ids) || ids.length === 0 || ids.length > max || !ids.every(isRequestId)) {
    throw new EdgeMQError(
      ERROR_CODE.badRequest,
      `the body must be {"ids": [...]}, 1 to ${max} request ids (${REQUEST_ID_RULE})`,
    );
  }
  return ids;
}
