/**
 * A request's or reply's headers as the HTTP API carries them, in one `EdgeMQ-Headers` header:
 * JSON with every character past ASCII escaped (`\u00e9`), since an HTTP header value carries
 * bytes, not text. Escaping can make it several times the headers' own size, and an HTTP client
 * refuses an answer whose headers are too large (Node's fetch: 16 KiB in all), so the relay holds
 * every request's and reply's headers to MAX_ENCODED_HEADERS_CHARS once encoded (validate.ts
 * headersOverLimits), whatever transport carries them. No imports: validate.ts and
 * http-headers.ts both use it.
 */

/**
 * Most characters of `EdgeMQ-Headers`: 12 KiB, leaving room in Node's 16 KiB for a take's other
 * headers. Plain ASCII headers within maxHeaderBytes (8 KiB) always fit.
 */
export const MAX_ENCODED_HEADERS_CHARS = 12 * 1024;

/** `headers` as the value of `EdgeMQ-Headers`. Names keep their case. */
export function encodeHeadersHeader(headers: Readonly<Record<string, string>>): string {
  return JSON.stringify(headers).replace(
    /[\u007f-\uffff]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
