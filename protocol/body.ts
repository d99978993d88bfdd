/**
 * Request and reply bodies on the wire. A body is a JSON value, a string or bytes, and arrives as
 * the same kind with the same content. Bytes may be given as a Uint8Array, an ArrayBuffer or any
 * other ArrayBufferView (DataView, typed arrays: their bytes) and arrive as a Uint8Array. A value
 * JSON would silently mangle (a Map or Set, a Blob or FormData, bytes or a RegExp inside a JSON
 * value, ...) is refused with `bad_request`, as a BigInt and JSON.stringify's own refusals (a cycle)
 * are. On the wire a body is always a string plus its encoding, so the relay can measure and store
 * it without parsing it:
 *   { enc: "json", data: "<JSON text>" } | { enc: "utf8", data: "<text>" } | { enc: "base64", data: "<bytes>" }
 */
import { EdgeMQError, ERROR_CODE } from "./errors.js";

/** A value JSON carries as it is: what a JSON body arrives as. */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };

/**
 * A body as it arrives: a JSON value (null for none: a request sent without one, a handler that
 * returned nothing), a string or bytes; never undefined.
 */
export type ReceivedBody = JsonValue | Uint8Array;

/** What an SDK user sends and receives as a body (undefined, sent, arrives as null). */
export type Body = ReceivedBody | undefined;

/**
 * What an SDK user may send as a body: a Body, bytes in any ArrayBuffer form, or any other object
 * JSON carries (a value of an interface or class type, a Date), sent as JSON.stringify sends it.
 * Not a Promise (await it first): TypeScript refuses one. What else JSON would mangle is refused at
 * run time (`bad_request`, jsonText).
 */
export type SendBody = Body | ArrayBuffer | ArrayBufferView | BodyObject;

/**
 * Any object but a promise (a thenable: one whose `then` is a function), which would be sent as
 * `{}` (or, returned by a handler's async function, be a body no one checked).
 */
export type BodyObject = object & { then?: NotCallable };

/** Any value but a function (an object with a callable `call`, as every function has). */
export type NotCallable =
  | string
  | number
  | boolean
  | bigint
  | symbol
  | null
  | undefined
  | (object & { call?: never });

export const BODY_ENCODING = { json: "json", utf8: "utf8", base64: "base64" } as const;
export type BodyEncoding = (typeof BODY_ENCODING)[keyof typeof BODY_ENCODING];

export interface WireBody {
  enc: BodyEncoding;
  data: string;
  /** Optional media type (set by the HTTP API; carried unchanged). */
  type?: string;
}

const EMPTY_JSON: WireBody = { enc: "json", data: "null" };

/**
 * Turns a user body into its wire form. Strings stay strings, bytes stay bytes. Throws
 * `bad_request` for what JSON cannot carry (jsonText).
 */
export function encodeBody(body: SendBody): WireBody {
  if (body === undefined) return EMPTY_JSON;
  if (typeof body === "string") return { enc: "utf8", data: body };
  const bytes = binaryBody(body);
  if (bytes !== undefined) return { enc: "base64", data: bytesToBase64(bytes) };
  return { enc: "json", data: jsonText(body) };
}

/**
 * The bytes of a binary body: a Uint8Array as it is, an ArrayBuffer (or SharedArrayBuffer) whole,
 * any other ArrayBufferView (DataView, typed arrays) as the bytes it spans. Undefined otherwise.
 */
export function binaryBody(body: unknown): Uint8Array | undefined {
  if (body instanceof Uint8Array) return body;
  if (typeof body !== "object" || body === null) return undefined;
  if (ArrayBuffer.isView(body)) {
    return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  }
  // By tag, not instanceof: a buffer from another realm (an iframe, node:vm) counts too.
  const tag = Object.prototype.toString.call(body);
  if (tag === "[object ArrayBuffer]" || tag === "[object SharedArrayBuffer]") {
    return new Uint8Array(body as ArrayBuffer);
  }
  return undefined;
}

/**
 * A JSON body's text. Throws `bad_request` when there is none (a function, a symbol), for a
 * value JSON.stringify would silently mangle, and for a BigInt, at any depth (refusal); and for
 * what JSON.stringify itself throws on (a cycle, nesting too deep for the stack, a toJSON that
 * throws), with its message, so a request and a handler's reply say the same.
 */
export function jsonText(body: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(body, refuseMangled);
  } catch (cause) {
    if (cause instanceof EdgeMQError) throw cause;
    const why = cause instanceof Error && cause.message !== "" ? `: ${cause.message}` : "";
    throw new EdgeMQError(ERROR_CODE.badRequest, `${NOT_SERIALISABLE}${why}`, { cause });
  }
  return text ?? refuse(NOT_SERIALISABLE);
}

const NOT_SERIALISABLE = "body is not serialisable as JSON";

/**
 * JSON.stringify replacer: passes every value on, throwing for those `mangledAs` names. `value` is
 * what toJSON made of the holder's own value: a Node Buffer's toJSON hides its bytes in a plain
 * object, so a plain object that stands for something else is looked up as it was.
 */
function refuseMangled(this: unknown, key: string, value: unknown): unknown {
  if (typeof value !== "object" || value === null) {
    const lost = lostScalar(value, (this as Record<string, unknown>)[key]);
    return lost === undefined ? value : refuse(lost);
  }
  const prototype: unknown = Object.getPrototypeOf(value);
  if (Array.isArray(value) || prototype === Object.prototype || prototype === null) {
    const original = key === "" ? value : (this as Record<string, unknown>)[key];
    if (original !== value && binaryBody(original) !== undefined) refuse(BYTES_INSIDE);
    return value;
  }
  const refusal = mangledAs(value);
  if (refusal !== undefined) refuse(refusal);
  return value;
}

function refuse(message: string): never {
  throw new EdgeMQError(ERROR_CODE.badRequest, message);
}

const NOT_FINITE = "body holds NaN or Infinity, which JSON would send as null";
const DROPPED = (kind: string) =>
  `body holds a ${kind}, which JSON would drop (or send as null in an array)`;
const BIGINT =
  "body holds a BigInt, which JSON cannot carry: convert it, e.g. String(n) or Number(n)";
const INVALID_DATE = "body holds an invalid Date, which JSON would send as null";

/**
 * Why JSON would lose a value that is not an object (after toJSON: `original` is the holder's
 * own value), or undefined when it carries it.
 */
function lostScalar(value: unknown, original: unknown): string | undefined {
  if (typeof value === "number" && !Number.isFinite(value)) return NOT_FINITE;
  if (typeof value === "function" || typeof value === "symbol") return DROPPED(typeof value);
  if (typeof value === "bigint") return BIGINT;
  if (value === null && original instanceof Date && Number.isNaN(original.getTime())) {
    return INVALID_DATE;
  }
  return undefined;
}

const BYTES_INSIDE =
  "body holds bytes inside a JSON value, which JSON would send as an object of numbers: send them as the whole body, or base64 them";

/** Objects (after toJSON: a Date is a string by then) JSON would send as {}, with a hint. */
const MANGLED_TAGS: ReadonlyMap<string, string> = new Map([
  ["[object Map]", "a Map, which JSON would send as {}: convert it, e.g. Object.fromEntries(map)"],
  ["[object Set]", "a Set, which JSON would send as {}: convert it, e.g. [...set]"],
  ["[object WeakMap]", "a WeakMap, which JSON would send as {}"],
  ["[object WeakSet]", "a WeakSet, which JSON would send as {}"],
  ["[object RegExp]", "a RegExp, which JSON would send as {}: send its source"],
  ["[object Promise]", "a Promise, which JSON would send as {}: await it first"],
  // Web bodies a page has at hand (a picked file, a form), which fetch would send but JSON not.
  [
    "[object Blob]",
    "a Blob, which JSON would send as {}: send its bytes, new Uint8Array(await blob.arrayBuffer()), or its text, await blob.text()",
  ],
  [
    "[object File]",
    "a File, which JSON would send as {}: send its bytes, new Uint8Array(await file.arrayBuffer())",
  ],
  [
    "[object FormData]",
    "a FormData, which JSON would send as {}: convert it, e.g. Object.fromEntries(formData), its files as bytes",
  ],
  [
    "[object URLSearchParams]",
    "a URLSearchParams, which JSON would send as {}: send params.toString() or Object.fromEntries(params)",
  ],
  [
    "[object ReadableStream]",
    "a ReadableStream, which JSON would send as {}: read it first, e.g. new Uint8Array(await new Response(stream).arrayBuffer())",
  ],
]);

/** Why JSON would mangle `value`, or undefined when it carries it. */
function mangledAs(value: object): string | undefined {
  if (binaryBody(value) !== undefined) return BYTES_INSIDE;
  const tag = Object.prototype.toString.call(value);
  // An Error with fields of its own (a code, a status) sends them; a bare one sends {}.
  if (tag === "[object Error]" && Object.keys(value).length === 0) {
    return "body holds an Error with no fields, which JSON would send as {}: send its message";
  }
  const what = MANGLED_TAGS.get(tag);
  return what === undefined ? undefined : `body holds ${what}`;
}

/** Turns a wire body back into the user's value. Throws `bad_request` on corrupt content. */
export function decodeBody(wire: WireBody): ReceivedBody {
  switch (wire.enc) {
    case "utf8":
      return wire.data;
    case "base64":
      return base64ToBytes(wire.data);
    case "json":
      try {
        return JSON.parse(wire.data) as JsonValue;
      } catch (cause) {
        throw new EdgeMQError(ERROR_CODE.badRequest, "body is not valid JSON", { cause });
      }
  }
}

/** Size in bytes of the body's content (decoded bytes for base64, UTF-8 bytes otherwise). */
export function bodySize(wire: WireBody): number {
  if (wire.enc === "base64") return base64DecodedLength(wire.data);
  return utf8Length(wire.data);
}

const PAST_ASCII = /[\u0080-\uffff]/;

/**
 * UTF-8 length of a string without allocating an encoded copy: its length when it is ASCII (most
 * JSON and base64 are; one regular-expression scan), else counted character by character.
 */
export function utf8Length(text: string): number {
  if (!PAST_ASCII.test(text)) return text.length;
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && isLowSurrogate(text.charCodeAt(i + 1))) {
      bytes += 4;
      i++;
    } else bytes += 3; // includes a lone surrogate, sent as U+FFFD (3 bytes)
  }
  return bytes;
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

function base64DecodedLength(data: string): number {
  let padding = 0;
  if (data.endsWith("==")) padding = 2;
  else if (data.endsWith("=")) padding = 1;
  return Math.floor((data.length * 3) / 4) - padding;
}

const BASE64_PATTERN = /^[A-Za-z0-9+/]*={0,2}$/;

export function isBase64(data: string): boolean {
  return data.length % 4 === 0 && BASE64_PATTERN.test(data);
}

const CHUNK = 0x8000;

export function bytesToBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += CHUNK) {
    binary += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  }
  return btoa(binary);
}

export function base64ToBytes(data: string): Uint8Array {
  // atob is forgiving (no padding, whitespace); the wire is not, and bodySize relies on that.
  if (!isBase64(data)) throw new EdgeMQError(ERROR_CODE.badRequest, "body is not valid base64");
  let binary: string;
  try {
    binary = atob(data);
  } catch (cause) {
    throw new EdgeMQError(ERROR_CODE.badRequest, "body is not valid base64", { cause });
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
