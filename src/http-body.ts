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
  CONTENT_TYPE_RULE,
  contentTypeOf,
  EdgeMQError,
  ERROR_CODE,
  isContentType,
  typedWireBody,
  type WireBody,
} from "../protocol/index.js";

/** The Content-Type assumed when a request carries none. */
export const DEFAULT_CONTENT_TYPE = "application/octet-stream";

/** An HTTP body ready to send: its content and Content-Type. */
export interface HttpBody {
  content: Uint8Array | string;
  contentType: string;
}

/** The wire body for an HTTP request or reply body. Throws `bad_request` on bad input. */
export function wireBodyFromHttp(contentType: string | null, bytes: Uint8Array): WireBody {
  const type =
    contentType === null || contentType.trim() === "" ? DEFAULT_CONTENT_TYPE : contentType;
  if (!isContentType(type)) {
    throw new EdgeMQError(ERROR_CODE.badRequest, `Content-Type must be ${CONTENT_TYPE_RULE}`);
  }
  return typedWireBody(type, bytes);
}

/** The HTTP form of a wire body: bytes (or text) and a Content-Type. */
export function httpFromWireBody(body: WireBody): HttpBody {
  const contentType = contentTypeOf(body);
  const content = body.enc === "base64" ? base64ToBytes(body.data) : body.data;
  return { content, contentType };
}
