/**
 * The HTTP API's responses built from relay frames: a reply outcome becomes 200 with its body and
 * Content-Type, an error outcome (or a refusal) the JSON error body with its status from
 * HTTP_STATUS (via errorResponse), and a dispatched request 200 with its body and the
 * `EdgeMQ-*` headers a server needs to answer it. Used by routes/http-client.ts and http-server.ts.
 */
import {
  type DispatchFrame,
  EdgeMQError,
  ERROR_CODE,
  type ErrorFrame,
  encodeHeadersHeader,
  type Headers,
  HTTP_API_HEADERS,
  type ReplyFrame,
  type WireError,
} from "../protocol/index.js";
import { httpFromWireBody } from "./http-body.js";
import { errorResponse } from "./http-error.js";

/** The HTTP answer to a request's outcome. */
export function outcomeResponse(frame: ReplyFrame | ErrorFrame, id: string): Response {
  if (frame.type === "error") return refusalResponse(frame, id);
  const { content, contentType } = httpFromWireBody(frame.body);
  const headers = { "content-type": contentType, [HTTP_API_HEADERS.requestId]: id };
  return new Response(content, { status: 200, headers: withFrameHeaders(headers, frame.headers) });
}

/**
 * A typed error as the JSON error body with its status, naming the request when known. A
 * `rate_limited` refusal says when to try again in `Retry-After` (whole seconds, rounded up from
 * `retryAfterMs`, the wait for a token; 1 when the refusal names none), as HTTP clients and their
 * retry helpers expect of a 429.
 */
export function refusalResponse(error: WireError, id?: string, retryAfterMs?: number): Response {
  const response = errorResponse(new EdgeMQError(error.code, error.message));
  if (id !== undefined) response.headers.set(HTTP_API_HEADERS.requestId, id);
  if (error.code === ERROR_CODE.rateLimited) {
    response.headers.set("Retry-After", String(retryAfterSeconds(retryAfterMs)));
  }
  return response;
}

/** `Retry-After` in whole seconds, at least 1 (a 0 would invite an immediate retry). */
export function retryAfterSeconds(retryAfterMs: number | undefined): number {
  if (retryAfterMs === undefined || !Number.isFinite(retryAfterMs)) return 1;
  return Math.max(1, Math.ceil(retryAfterMs / 1000));
}

/** A request handed to an HTTP server by `take`. */
export function dispatchResponse(frame: DispatchFrame): Response {
  const { content, contentType } = httpFromWireBody(frame.body);
  const headers = {
    "content-type": contentType,
    [HTTP_API_HEADERS.requestId]: frame.id,
    [HTTP_API_HEADERS.from]: frame.from,
    [HTTP_API_HEADERS.deadline]: String(frame.deadline),
    [HTTP_API_HEADERS.attempt]: String(frame.attempt),
  };
  return new Response(content, { status: 200, headers: withFrameHeaders(headers, frame.headers) });
}

/** `headers` plus `EdgeMQ-Headers` carrying a frame's own headers, when it has any. */
function withFrameHeaders(
  headers: Record<string, string>,
  frameHeaders: Headers | undefined,
): Record<string, string> {
  if (frameHeaders === undefined || Object.keys(frameHeaders).length === 0) return headers;
  return { ...headers, [HTTP_API_HEADERS.headers]: encodeHeadersHeader(frameHeaders) };
}

/** 204 No Content, with optional headers. */
export function noContent(headers: Record<string, string> = {}): Response {
  return new Response(null, { status: 204, headers });
}
