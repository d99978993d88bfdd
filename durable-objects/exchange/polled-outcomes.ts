/**
 * One answer of `GET /v1/outcomes` from a poller's stored outcomes in number order: as many as
 * its budget allows (MAX_OUTCOMES_PER_ANSWER frames and MAX_OUTCOMES_ANSWER_BYTES bytes of frames
 * as UTF-8, but always the first, whatever its size), and the cursor for the next poll. Rows are
 * read lazily and no further than the budget, so a poll of many large replies holds one answer's
 * worth in memory. Pure; used by http-requests.ts.
 */
import {
  MAX_OUTCOMES_ANSWER_BYTES,
  MAX_OUTCOMES_PER_ANSWER,
  utf8Length,
} from "../../protocol/index.js";
import type { HttpPollAnswer } from "../shared/http-contracts.js";

/** A stored outcome: its number for its poller and its encoded frame. */
export interface PolledRow {
  seq: number;
  frame: string;
}

export interface PollBudget {
  frames: number;
  bytes: number;
}

export const POLL_BUDGET: PollBudget = {
  frames: MAX_OUTCOMES_PER_ANSWER,
  bytes: MAX_OUTCOMES_ANSWER_BYTES,
};

/**
 * The outcomes of `rows` (numbered above `after`, in order) that fit one answer; `after` is the
 * last one's number, or the given one when there is none.
 */
export function takePolled(
  rows: Iterable<PolledRow>,
  after: number,
  budget: PollBudget = POLL_BUDGET,
): HttpPollAnswer {
  const frames: string[] = [];
  let bytes = 0;
  let cursor = after;
  for (const row of rows) {
    if (frames.length >= budget.frames) break;
    const size = utf8Length(row.frame);
    if (frames.length > 0 && bytes + size > budget.bytes) break;
    frames.push(row.frame);
    bytes += size;
    cursor = row.seq;
  }
  return { frames, after: cursor };
}
