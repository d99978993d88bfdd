/**
 * What a failed handler tells its requester, on either transport: the error's message (never its
 * stack), cut to what the relay keeps. Used by service.ts and http-service.ts.
 */
import { MAX_FAIL_MESSAGE_CHARS } from "../protocol/index.js";

export function failureMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : typeof error === "string" ? error : "";
  return (message || "handler failed").slice(0, MAX_FAIL_MESSAGE_CHARS);
}
