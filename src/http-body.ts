/**
 * HTTP bodies ↔ wire bodies, for the HTTP API (routes/http-*.ts). An HTTP body is bytes plus a
 * Content-Type; the wire body keeps that Content-Type in `type`, so the other side sees it:
 *   application/json (and any +json type)  → enc "json" (must parse as JSON, else bad_request)
 *   text/* in UTF-8 (no charset, or utf-8)  → enc "utf8"
 *   anything else, or text that is not valid UTF-8 → enc "base64" (lossless)
 * No Content-Type means application/octet-stream. Back on HTTP, a wire body's `type` is its
 * Content-Type; a body without one (sent by an SDK) gets one from its encoding.
 * Pure: no I/O, unit-tested in test/unit/http/http-body.test.ts.
 */
import {
  base64ToBytes,
  bytesToBase64,
  EdgeMQError,
  ERROR_CODE,
  type WireBody,
} from "../protocol/index.js";

/** The Content-Type assumed when a request carries none. */
export const DEFAULT_CONTENT_TYPE = "application/octet-stream";

/** Content-Types given to wire bodies that carry no `type` (bodies from SDK peers). */
export const CONTENT_TYPE_FOR_ENCODING = {
  json: "application/json",
  utf8: "text/plain; charset=utf-8",
  base64: "application/octet-stream",
} as const;

/** Longest Content-Type kept (the wire's limit for `body.type`). */
export const MAX_CONTENT_TYPE_CHARS = 256;

/** A Content-Type we can put back on a response: visible ASCII and spaces, bounded. */
const SAFE_CONTENT_TYPE = /^[\x20-\x7e]{1,256}$/;

/** An HTTP body ready to send: its content and Content-Type. */
export interface HttpBody {
  content: Uint8Array | string;
  contentType: string;
}

/** The wire body for an HTTP request or reply body. Throws `bad_request` on bad input. */
export function wireBodyFromHttp(contentType: string | null, bytes: Uint8Array): WireBody {
  const type =
    contentType === null || contentType.trim() === "" ? DEFAULT_CONTENT_TYPE : contentType;
  if (type.length > MAX_CONTENT_TYPE_CHARS || !SAFE_CONTENT_TYPE.test(type)) {
    throw new EdgeMQError(
      ERROR_CODE.badRequest,
      `Content-Type must be at most ${MAX_CONTENT_TYPE_CHARS} printable ASCII characters`,
    );
  }
  const media = mediaType(type);
  if (isJsonMedia(media)) {
    const text = decodeUtf8(bytes);
    if (text === undefined || !parsesAsJson(text)) {
      throw new EdgeMQError(ERROR_CODE.badRequest, `the body is not valid JSON (${media})`);
    }
    return { enc: "json", data: text, type };
  }
  if (media.startsWith("text/") && isUtf8Charset(type)) {
    const text = decodeUtf8(bytes);
    if (text !== undefined) return { enc: "utf8", data: text, type };
  }
  return { enc: "base64", data: bytesToBase64(bytes), type };
}

/** The HTTP form of a wire body: bytes (or text) and a Content-Type. */
export function httpFromWireBody(body: WireBody): HttpBody {
  const fallback = CONTENT_TYPE_FOR_ENCODING[body.enc];
  const contentType =
    body.type !== undefined && SAFE_CONTENT_TYPE.test(body.type) ? body.type : fallback;
  const content = body.enc === "base64" ? base64ToBytes(body.data) : body.data;
  return { content, contentType };
}

/** The media type of a Content-Type, lower case, without parameters. */
export function mediaType(contentType: string): string {
  return (contentType.split(";")[0] ?? "").trim().toLowerCase();
}

function isJsonMedia(media: string): boolean {
  return media === "application/json" || media.endsWith("+json");
}

/** True when the Content-Type names no charset, or UTF-8 (or its subset US-ASCII). */
function isUtf8Charset(contentType: string): boolean {
  const match = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType);
  const charset = match?.[1]?.toLowerCase();
  return (
    charset === undefined || charset === "utf-8" || charset === "utf8" || charset === "us-ascii"
  );
}

const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return STRICT_UTF8.decode(bytes);
  } catch {
    return undefined;
  }
}

function parsesAsJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
