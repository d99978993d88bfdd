/**
 * What a failed handler tells its requester, on either transport: the error's message (never its
 * stack), cut to what the relay keeps. Used by service.ts and http-service.ts.
 */
import { cutFailMessage } from "../protocol/index.js";

export function failureMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : typeof error === "string" ? error : "";
  return cutFailMessage(message || "handler failed");
}
