/**
 * The answer of `GET /v1/outcomes` (docs/http-api.md): the outcomes of one poller's HTTP requests
 * (each a `reply` or `error` frame with its request's id, as protocol.md defines them), in the
 * order they ended, and the cursor to ask after next time. The exchange writes it from the frames
 * it stores (already encoded); the SDK's HTTP transport reads it here.
 */
import { decodeFrameValue } from "./codec.js";
import type { ErrorFrame, ReplyFrame } from "./frames.js";
import { isRecord } from "./validate.js";

/**
 * What `GET /v1/whoami` lists in `features` for a relay that has `GET /v1/outcomes`: the SDK sends
 * `EdgeMQ-Poller` only then (an older relay's CORS refuses the header in a page of another origin).
 */
export const OUTCOMES_FEATURE = "outcomes";

/** Most outcomes one answer carries; the rest come on the next call (at once: they are there). */
export const MAX_OUTCOMES_PER_ANSWER = 256;

/**
 * Most bytes of frames (as UTF-8, as the answer is sent) one answer carries (at least one outcome
 * goes, whatever its size): a poll of many large replies comes in several answers rather than one
 * of hundreds of MiB.
 */
export const MAX_OUTCOMES_ANSWER_BYTES = 4 * 1024 * 1024;

/** An outcome as a poll returns it: a request's reply, or the error it ended in. */
export type PolledOutcome = (ReplyFrame | ErrorFrame) & { id: string };

export interface OutcomesAnswer {
  outcomes: PolledOutcome[];
  /** The cursor for the next poll: the last outcome's, or the one asked with when none came. */
  after: number;
}

/** The answer's JSON from encoded frames (each `encodeFrame` of a reply or error). */
export function encodeOutcomesAnswer(encodedFrames: readonly string[], after: number): string {
  return `{"outcomes":[${encodedFrames.join(",")}],"after":${after}}`;
}

/** Reads an answer of `GET /v1/outcomes`, or says why it is not one. */
export function decodeOutcomesAnswer(value: unknown): OutcomesAnswer | string {
  if (!isRecord(value)) return "an outcomes answer must be a JSON object";
  const { outcomes, after } = value;
  if (!Number.isSafeInteger(after) || typeof after !== "number" || after < 0) {
    return "after must be a non-negative integer";
  }
  if (!Array.isArray(outcomes)) return "outcomes must be an array";
  const read: PolledOutcome[] = [];
  for (const item of outcomes) {
    const decoded = decodeFrameValue(item);
    if (!decoded.ok) return `an outcome is not a frame: ${decoded.error.message}`;
    const frame = decoded.value;
    if ((frame.type !== "reply" && frame.type !== "error") || frame.id === undefined) {
      return "an outcome must be a reply or an error frame with an id";
    }
    read.push(frame as PolledOutcome);
  }
  return { outcomes: read, after };
}
