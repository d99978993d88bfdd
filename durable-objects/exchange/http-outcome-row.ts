/**
 * Reads a stored outcome frame back (a `reply` or an `error`), re-validated with the protocol's
 * codec rather than cast. Pure; used by http-requests.ts.
 */
import { decodeFrames, type ErrorFrame, type ReplyFrame } from "../../protocol/index.js";

export function readOutcome(text: string): ReplyFrame | ErrorFrame | undefined {
  const [result] = decodeFrames(text);
  if (result === undefined || !result.ok) return undefined;
  const frame = result.value;
  return frame.type === "reply" || frame.type === "error" ? frame : undefined;
}
