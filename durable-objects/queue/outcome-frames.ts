/**
 * Builds the frame a client receives when its request ends, carrying the CLIENT's request id
 * (never the relay id). Pure; used by request-lifecycle.ts and queue-do.ts.
 */
import type { ErrorCode, ErrorFrame, Headers, ReplyFrame, WireBody } from "../../protocol/index.js";

export function replyFrame(clientId: string, body: WireBody, headers?: Headers): ReplyFrame {
  return headers === undefined
    ? { type: "reply", id: clientId, body }
    : { type: "reply", id: clientId, body, headers };
}

export function errorFrame(clientId: string, code: ErrorCode, message: string): ErrorFrame {
  return { type: "error", id: clientId, code, message };
}
