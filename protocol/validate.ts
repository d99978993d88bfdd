/**
 * Small guards that narrow `unknown` values read off the wire. The codec builds every frame from
 * these; nothing else in EdgeMQ casts wire data.
 */
import { BODY_ENCODING, type BodyEncoding, isBase64, utf8Length, type WireBody } from "./body.js";
import { MAX_CONTENT_TYPE_CHARS } from "./content-type.js";
import type { Headers } from "./frames.js";
import { encodeHeadersHeader, MAX_ENCODED_HEADERS_CHARS } from "./headers-encoding.js";
import {
  DEFAULT_LIMITS,
  IDENTITY_PATTERN,
  type Limits,
  QUEUE_NAME_PATTERN,
  REQUEST_ID_PATTERN,
} from "./limits.js";

export type Fields = Record<string, unknown>;

export function isRecord(value: unknown): value is Fields {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function isQueueName(value: unknown): value is string {
  return typeof value === "string" && QUEUE_NAME_PATTERN.test(value);
}

export function isIdentity(value: unknown): value is string {
  return typeof value === "string" && IDENTITY_PATTERN.test(value);
}

export function isRequestId(value: unknown): value is string {
  return typeof value === "string" && REQUEST_ID_PATTERN.test(value);
}

export function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

const ENCODINGS: ReadonlySet<string> = new Set(Object.values(BODY_ENCODING));

function isBodyEncoding(value: unknown): value is BodyEncoding {
  return typeof value === "string" && ENCODINGS.has(value);
}

/** A wire body: a known encoding and a string that is valid for it. */
export function readWireBody(value: unknown): WireBody | string {
  if (!isRecord(value)) return "body must be an object { enc, data }";
  const { enc, data, type } = value;
  if (!isBodyEncoding(enc)) return "body.enc must be json, utf8 or base64";
  if (typeof data !== "string") return "body.data must be a string";
  if (enc === "base64" && !isBase64(data)) return "body.data is not valid base64";
  if (type !== undefined && (typeof type !== "string" || type.length > MAX_CONTENT_TYPE_CHARS)) {
    return "body.type must be a short string";
  }
  return type === undefined ? { enc, data } : { enc, data, type };
}

const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$/;

/**
 * Headers: a flat object of string values, bounded in count and size by the protocol's maxima
 * (DEFAULT_LIMITS); a relay configured lower checks its own with `headersOverLimits`.
 */
export function readHeaders(value: unknown): Headers | string {
  if (!isRecord(value)) return "headers must be an object of strings";
  const entries = Object.entries(value);
  if (entries.length > DEFAULT_LIMITS.maxHeaders) return "too many headers";
  const checked: [string, string][] = [];
  for (const [name, headerValue] of entries) {
    if (!HEADER_NAME.test(name)) return `bad header name ${JSON.stringify(name.slice(0, 64))}`;
    if (typeof headerValue !== "string") return `header ${name} must be a string`;
    checked.push([name, headerValue]);
  }
  if (headersSize(checked) > DEFAULT_LIMITS.maxHeaderBytes) return "headers too large";
  // fromEntries defines own properties, so a header named "__proto__" stays a header.
  return Object.fromEntries(checked);
}

/** Why decoded `headers` break the relay's configured limits (count, then size), or undefined. */
export function headersOverLimits(
  headers: Headers | undefined,
  limits: Pick<Limits, "maxHeaders" | "maxHeaderBytes">,
): string | undefined {
  if (headers === undefined) return undefined;
  const entries = Object.entries(headers);
  if (entries.length > limits.maxHeaders) {
    return `${entries.length} headers, over the limit of ${limits.maxHeaders}`;
  }
  const size = headersSize(entries);
  if (size > limits.maxHeaderBytes) {
    return `headers of ${size} bytes, over the limit of ${limits.maxHeaderBytes}`;
  }
  // Escaping makes a byte at most six characters (a control character: \u0001), and each
  // header adds its quotes, colon and comma: below this bound the encoding cannot be too long.
  if (size * 6 + entries.length * 8 + 2 > MAX_ENCODED_HEADERS_CHARS) {
    const encoded = encodeHeadersHeader(headers).length;
    if (encoded > MAX_ENCODED_HEADERS_CHARS) {
      return `headers of ${encoded} characters once escaped for HTTP (EdgeMQ-Headers), over the limit of ${MAX_ENCODED_HEADERS_CHARS}`;
    }
  }
  return undefined;
}

/** Header names plus UTF-8 values, in bytes. */
function headersSize(entries: readonly [string, string][]): number {
  let size = 0;
  for (const [name, value] of entries) size += name.length + utf8Length(value);
  return size;
}

/** A list of request ids, bounded. */
export function readIds(value: unknown, max = 10_000): string[] | string {
  if (!Array.isArray(value)) return "ids must be an array";
  if (value.length > max) return `too many ids (at most ${max})`;
  for (const id of value) if (!isRequestId(id)) return "ids must be request ids";
  return value as string[];
}
