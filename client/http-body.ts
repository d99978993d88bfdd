/**
 * SDK bodies ↔ HTTP bodies for the HTTP transport, matching how the relay maps Content-Types
 * (docs/http-api.md#bodies), so a body arrives as the same kind with the same content:
 *   a string → text/plain; charset=utf-8, bytes (a Uint8Array, an ArrayBuffer or any other
 *   ArrayBufferView) → application/octet-stream, any other JSON value
 *   (and no body: null) → application/json.
 * Back: application/json or +json → the parsed JSON value, text/* in UTF-8 → a string, anything
 * else → a Uint8Array. Also a reply's or request's `EdgeMQ-Headers`, and the Content-Type of a
 * polled outcome's wire body. Pure; used by http-requester.ts and http-service.ts.
 */
import {
  binaryBody,
  CONTENT_TYPE_FOR_ENCODING,
  decodeHeadersHeader,
  EdgeMQError,
  ERROR_CODE,
  type Headers,
  isJsonMediaType,
  isUtf8Text,
  type JsonValue,
  jsonText,
  type ReceivedBody,
  type SendBody,
  strictUtf8,
  utf8Length,
} from "../protocol/index.js";

export interface HttpBody {
  content: Uint8Array | string;
  contentType: string;
  /** Size in bytes. */
  size: number;
}

export const TEXT_CONTENT_TYPE = CONTENT_TYPE_FOR_ENCODING.utf8;
export const JSON_CONTENT_TYPE = CONTENT_TYPE_FOR_ENCODING.json;
export const BYTES_CONTENT_TYPE = CONTENT_TYPE_FOR_ENCODING.base64;

/** The HTTP body for an SDK body; throws `bad_request` for what JSON cannot carry (jsonText). */
export function httpBodyOf(body: SendBody): HttpBody {
  if (typeof body === "string") {
    return { content: body, contentType: TEXT_CONTENT_TYPE, size: utf8Length(body) };
  }
  const bytes = binaryBody(body);
  if (bytes !== undefined) {
    return { content: bytes, contentType: BYTES_CONTENT_TYPE, size: bytes.byteLength };
  }
  const text = jsonText(body === undefined ? null : body);
  return { content: text, contentType: JSON_CONTENT_TYPE, size: utf8Length(text) };
}

/** The SDK body for an HTTP body; throws `bad_request` for a JSON type that does not parse. */
export function bodyOfHttp(contentType: string | undefined, bytes: Uint8Array): ReceivedBody {
  const type = contentType ?? BYTES_CONTENT_TYPE;
  if (isJsonMediaType(type)) {
    const text = strictUtf8(bytes);
    try {
      if (text !== undefined) return JSON.parse(text) as JsonValue;
    } catch (cause) {
      throw new EdgeMQError(ERROR_CODE.badRequest, "body is not valid JSON", { cause });
    }
    throw new EdgeMQError(ERROR_CODE.badRequest, "body is not valid UTF-8 JSON");
  }
  if (isUtf8Text(type)) {
    const text = strictUtf8(bytes);
    if (text !== undefined) return text;
  }
  return bytes;
}

/**
 * A request's or reply's own headers from the `EdgeMQ-Headers` the relay sent with them (none
 * when they have none; one that does not read, which the relay never sends, counts as none).
 */
export function headersOfHttp(value: string | undefined): Headers {
  if (value === undefined) return {};
  const headers = decodeHeadersHeader(value);
  return typeof headers === "string" ? {} : headers;
}
