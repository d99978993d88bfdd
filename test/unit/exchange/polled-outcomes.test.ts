/** One answer of an outcome poll (polled-outcomes.ts): in order, within its budget, with its cursor. */
import { describe, expect, it } from "vitest";
import {
  POLL_BUDGET,
  type PolledRow,
  takePolled,
} from "../../../durable-objects/exchange/polled-outcomes.js";
import { MAX_OUTCOMES_ANSWER_BYTES, MAX_OUTCOMES_PER_ANSWER } from "../../../protocol/index.js";

function rows(seqs: readonly number[], size = 1): PolledRow[] {
  return seqs.map((seq) => ({ seq, frame: `${seq}`.padEnd(size, ".") }));
}

/** The rows, counting how many were read. */
function counted(list: readonly PolledRow[]): { rows: Iterable<PolledRow>; read: () => number } {
  let read = 0;
  function* each() {
    for (const row of list) {
      read++;
      yield row;
    }
  }
  return { rows: each(), read: () => read };
}

describe("takePolled", () => {
  it("takes the outcomes in order and moves the cursor to the last one", () => {
    expect(takePolled(rows([4, 7, 9]), 3)).toEqual({ frames: ["4", "7", "9"], after: 9 });
  });

  it("keeps the cursor it was given when there is nothing", () => {
    expect(takePolled([], 12)).toEqual({ frames: [], after: 12 });
  });

  it("stops at the frame budget, the cursor at the last one taken", () => {
    const answer = takePolled(rows([1, 2, 3, 4, 5]), 0, { frames: 3, bytes: 1_000 });
    expect(answer).toEqual({ frames: ["1", "2", "3"], after: 3 });
  });

  it("stops before the outcome that would pass the byte budget", () => {
    const answer = takePolled(rows([1, 2, 3], 40), 0, { frames: 10, bytes: 100 });
    expect(answer.frames.map((f) => f.length)).toEqual([40, 40]);
    expect(answer.after).toBe(2);
  });

  it("counts a frame's UTF-8 bytes, as the answer is sent, not its characters", () => {
    // 40 characters past ASCII: 120 bytes each once the answer is written as UTF-8.
    const frames = [1, 2, 3].map((seq) => ({ seq, frame: "€".repeat(40) }));
    const answer = takePolled(frames, 0, { frames: 10, bytes: 300 });
    expect(answer.frames).toHaveLength(2);
    expect(answer.after).toBe(2);
  });

  it("always takes the first outcome, however large", () => {
    const answer = takePolled(rows([5, 6], 500), 4, { frames: 10, bytes: 100 });
    expect(answer.frames).toHaveLength(1);
    expect(answer.after).toBe(5);
  });

  it("reads no further than one row past a full answer", () => {
    const source = counted(rows([1, 2, 3, 4, 5, 6], 40));
    takePolled(source.rows, 0, { frames: 10, bytes: 100 });
    expect(source.read()).toBe(3);
  });

  it("uses the protocol's budget by default", () => {
    expect(POLL_BUDGET).toEqual({
      frames: MAX_OUTCOMES_PER_ANSWER,
      bytes: MAX_OUTCOMES_ANSWER_BYTES,
    });
    const many = rows(Array.from({ length: MAX_OUTCOMES_PER_ANSWER + 1 }, (_, i) => i + 1));
    expect(takePolled(many, 0).after).toBe(MAX_OUTCOMES_PER_ANSWER);
  });
});
