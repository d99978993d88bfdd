/**
 * What fits in one WebSocket message (maxFrameChars, limits.ts), beyond the body size limit. A
 * body within maxBodyBytes may still make a message over the frame size once JSON escapes it:
 * `"` and `\` take two characters, control characters six. `bodyFrameRefusal` tells a sender so
 * before it sends (the SDK then fails the request, or fails the dispatch, at once). `frameHead`
 * reads the type and id at the start of a message too large to parse, so the relay's `too_large`
 * can name the request. Pure; used by the SDK and by the relay's message decoders.
 */
import type { WireBody } from "./body.js";
import { type Limits, maxFrameChars } from "./limits.js";
import { isRequestId } from "./validate.js";

/** Room left in a frame for everything but the body's data: ids, queue, headers, keys. */
const FRAME_ROOM = 16 * 1024;

/**
 * Why a frame carrying `body` would be over the relay's frame size, or undefined when it fits.
 * Cheap unless the body could escape past the limit (its data over a sixth of it).
 */
export function bodyFrameRefusal(
  body: WireBody,
  limits: Pick<Limits, "maxBodyBytes" | "maxHeaderBytes">,
): string | undefined {
  // Headers may escape too (control characters in values): room for six times their limit.
  const budget = maxFrameChars(limits) - 6 * limits.maxHeaderBytes - FRAME_ROOM;
  if (body.enc === "base64" || body.data.length * 6 + 2 <= budget) return undefined;
  const escaped = JSON.stringify(body.data).length;
  if (escaped <= budget) return undefined;
  return (
    `body is ${escaped} characters once escaped as JSON, over the ${budget} one message may ` +
    "carry (quotes, backslashes and control characters take 2-6 each); send it as bytes"
  );
}

const HEAD = /^\s*\{\s*"type"\s*:\s*"([a-z_]{1,16})"\s*,\s*"id"\s*:\s*"([^"\\]{1,200})"/;

/** The `type` and `id` a message starts with (`{"type":…,"id":…`), when it does. */
export function frameHead(raw: string): { type: string; id: string } | undefined {
  const match = HEAD.exec(raw.slice(0, 512));
  const type = match?.[1];
  const id = match?.[2];
  if (type === undefined || id === undefined || !isRequestId(id)) return undefined;
  return { type, id };
}
