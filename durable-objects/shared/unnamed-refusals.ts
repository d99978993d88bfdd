/**
 * Refusals of frames that name no request (no `id`) in one message go back as one `error`: the
 * first one's code and message, and how many there were. A message of 1,000 junk values would
 * otherwise earn 1,000 error frames, forty times its own size, buffered by the relay for a
 * client that need not read them. Refusals that name a request each stay their own: the client
 * needs each. Pure; used by exchange/client-message.ts and queue/server-messages.ts.
 */
import type { ErrorFrame } from "../../protocol/index.js";

export function collapseUnnamed(errors: ErrorFrame[]): ErrorFrame[] {
  let first: ErrorFrame | undefined;
  let unnamed = 0;
  for (const error of errors) {
    if (error.id !== undefined) continue;
    unnamed++;
    first ??= error;
  }
  if (first === undefined || unnamed === 1) return errors;
  const named = errors.filter((error) => error.id !== undefined);
  const message = `${unnamed} frames of this message were refused; the first: ${first.message}`;
  return [...named, { type: "error", code: first.code, message }];
}
