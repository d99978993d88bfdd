/**
 * Media types of bodies (a wire body's `type`, an HTTP Content-Type): the one rule for which ones
 * the relay accepts and gives back (src/http-body.ts) and an SDK handler may name (typed(),
 * client/typed-body.ts), which media types mean JSON, and the media type of a wire body that
 * names none (contentTypeOf).
 */
import type { WireBody } from "./body.js";

/** Longest Content-Type kept (the wire's limit for `body.type`). */
export const MAX_CONTENT_TYPE_CHARS = 256;

/** What a refused Content-Type is told (the same words from the relay and the SDK). */
export const CONTENT_TYPE_RULE = `at most ${MAX_CONTENT_TYPE_CHARS} printable ASCII characters`;

/** Visible ASCII and spaces, at least one. */
const PRINTABLE_ASCII = /^[\x20-\x7e]+$/;

/** A Content-Type the relay can put back on an HTTP response: 1 to 256 printable ASCII chars. */
export function isContentType(value: unknown): value is string {
  return (
    typeof value === "string" &&
    value.length <= MAX_CONTENT_TYPE_CHARS &&
    PRINTABLE_ASCII.test(value)
  );
}

/** The media type of a Content-Type, lower case, without parameters. */
export function mediaType(contentType: string): string {
  return (contentType.split(";")[0] ?? "").trim().toLowerCase();
}

/** True for application/json and any +json media type, whatever the parameters. */
export function isJsonMediaType(contentType: string): boolean {
  const media = mediaType(contentType);
  return media === "application/json" || media.endsWith("+json");
}

/** A text/* type whose bytes read as UTF-8: no charset, or UTF-8 (or its subset US-ASCII). */
export function isUtf8Text(contentType: string): boolean {
  if (!mediaType(contentType).startsWith("text/")) return false;
  const match = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType);
  const charset = match?.[1]?.toLowerCase();
  return (
    charset === undefined || charset === "utf-8" || charset === "utf8" || charset === "us-ascii"
  );
}

/** The media types of wire bodies that name none (bodies from SDK peers), by encoding. */
export const CONTENT_TYPE_FOR_ENCODING = {
  json: "application/json",
  utf8: "text/plain; charset=utf-8",
  base64: "application/octet-stream",
} as const;

/**
 * A wire body's media type: the one it names, else its encoding's. The relay gives it as the
 * Content-Type over HTTP, and the SDK as `req.contentType` and a reply's `contentType`, on
 * either transport.
 */
export function contentTypeOf(body: Pick<WireBody, "enc" | "type">): string {
  return isContentType(body.type) ? body.type : CONTENT_TYPE_FOR_ENCODING[body.enc];
}
