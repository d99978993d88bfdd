/**
 * Small guards that narrow `unknown` values read off the wire. The codec builds every frame from
 * these; nothing else in EdgeMQ casts wire data.
 */
import { BODY_ENCODING, type BodyEncoding, isBase64, utf8Length, type WireBody } from "./body.js";
import { MAX_CONTENT_TYPE_CHARS } from "./content-type.js";
import type { Headers } from "./frames.js";
import {
  DEFAULT_LIMITS,
  IDENTITY_PATTERN,
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

/** Headers: a flat object of string values, bounded in count and size. */
export function readHeaders(value: unknown): Headers | string {
  if (!isRecord(value)) return "headers must be an object of strings";
  const entries = Object.entries(value);
  if (entries.length > DEFAULT_LIMITS.maxHeaders) return "too many headers";
  let size = 0;
  const checked: [string, string][] = [];
  for (const [name, headerValue] of entries) {
    if (!HEADER_NAME.test(name)) return `bad header name ${JSON.stringify(name.slice(0, 64))}`;
    if (typeof headerValue !== "string") return `header ${name} must be a string`;
    size += name.length + utf8Length(headerValue);
    checked.push([name, headerValue]);
  }
  if (size > DEFAULT_LIMITS.maxHeaderBytes) return "headers too large";
  // fromEntries defines own properties, so a header named "__proto__" stays a header.
  return Object.fromEntries(checked);
}

/** A list of request ids, bounded. */
export function readIds(value: unknown, max = 10_000): string[] | string {
  if (!Array.isArray(value)) return "ids must be an array";
  if (value.length > max) return "too many ids";
  for (const id of value) if (!isRequestId(id)) return "ids must be request ids";
  return value as string[];
}
