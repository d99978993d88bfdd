/**
 * Content under a media type → its wire body, by the one rule the relay applies to HTTP bodies
 * (docs/http-api.md#bodies): a JSON type → `json` (must parse), text/* in UTF-8 → `utf8`, anything
 * else (or text that is not UTF-8) → `base64`. Used by the relay's HTTP routes (src/http-body.ts)
 * and by an SDK handler's typed() reply over WebSocket (client/typed-body.ts), so a typed reply
 * reaches a client as the same kind of value whichever transport its server used.
 */
import { bytesToBase64, type WireBody } from "./body.js";
import { isJsonMediaType, isUtf8Text, mediaType } from "./content-type.js";
import { EdgeMQError, ERROR_CODE } from "./errors.js";

const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const UTF8 = new TextEncoder();

/** `bytes` as UTF-8 text, or undefined when they are not valid UTF-8. */
export function strictUtf8(bytes: Uint8Array): string | undefined {
  try {
    return STRICT_UTF8.decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * The wire body of `content` (bytes, or text to be sent as UTF-8) under the valid Content-Type
 * `type`. Throws `bad_request` when a JSON type's content is not JSON.
 */
export function typedWireBody(type: string, content: Uint8Array | string): WireBody {
  const text = () => (typeof content === "string" ? content : strictUtf8(content));
  if (isJsonMediaType(type)) {
    const json = text();
    if (json === undefined || !parsesAsJson(json)) {
      throw new EdgeMQError(
        ERROR_CODE.badRequest,
        `the body is not valid JSON (${mediaType(type)})`,
      );
    }
    return { enc: "json", data: json, type };
  }
  if (isUtf8Text(type)) {
    const utf8 = text();
    if (utf8 !== undefined) return { enc: "utf8", data: utf8, type };
  }
  const bytes = typeof content === "string" ? UTF8.encode(content) : content;
  return { enc: "base64", data: bytesToBase64(bytes), type };
}

function parsesAsJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
