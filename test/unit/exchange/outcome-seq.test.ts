/**
 * Outcome numbers (outcome-seq.ts) against a fake one-row counter: they only grow, are written
 * once per claim, and follow the clock, so the gap between two of one identity's numbers says how
 * much time passed, not how many outcomes other identities on the shard got meanwhile.
 */
import { describe, expect, it } from "vitest";
import { OutcomeSeq, type SeqSql } from "../../../durable-objects/exchange/outcome-seq.js";

function fakeCounter(): { sql: SeqSql; writes: number[] } {
  let last: number | undefined;
  const writes: number[] = [];
  const sql: SeqSql = {
    exec: (query, ...params) => {
      if (query.startsWith("SELECT"))
        return { toArray: () => (last === undefined ? [] : [{ last }]) };
      last = params[0];
      if (last !== undefined) writes.push(last);
      return { toArray: () => [] };
    },
  };
  return { sql, writes };
}

/** Takes `count` numbers in one claim at `now`, and saves the counter. */
function claim(sql: SeqSql, now: number, count: number): number[] {
  const seq = new OutcomeSeq(sql, now);
  const taken: number[] = [];
  for (let i = 0; i < count; i++) {
    taken.push(seq.peek());
    seq.take();
  }
  seq.save();
  return taken;
}

describe("outcome numbers", () => {
  it("grow within a claim and across claims, with one write per claim that took any", () => {
    const { sql, writes } = fakeCounter();
    const first = claim(sql, 1_000, 3);
    expect(first).toEqual([1_000_000, 1_000_001, 1_000_002]);
    expect(claim(sql, 1_000, 0)).toEqual([]);
    expect(claim(sql, 1_000, 1)).toEqual([1_000_003]);
    expect(writes).toEqual([1_000_002, 1_000_003]);
  });

  it("never go back when the clock does", () => {
    const { sql } = fakeCounter();
    const [before] = claim(sql, 5_000, 1);
    const [after] = claim(sql, 4_000, 1);
    expect(after).toBeGreaterThan(before ?? Number.POSITIVE_INFINITY);
  });

  it("say nothing of how many outcomes came between two of one poller's", () => {
    const quiet = fakeCounter();
    const busy = fakeCounter();
    const [a1] = claim(quiet.sql, 1_000, 1);
    const [b1] = claim(busy.sql, 1_000, 1);
    claim(busy.sql, 1_001, 200); // other identities' outcomes, a millisecond later
    const [a2] = claim(quiet.sql, 1_002, 1);
    const [b2] = claim(busy.sql, 1_002, 1);
    expect(b1).toBe(a1);
    expect(b2).toBe(a2);
  });

  it("tell a poll's cursor that no answer gave (past the last number and the clock) from one that may", () => {
    const { sql } = fakeCounter();
    // 2,000 numbers in one millisecond run ahead of the clock: the last of them was given.
    const given = claim(sql, 1_000, 2_000);
    const last = given[given.length - 1] ?? 0;
    const at = (now: number) => new OutcomeSeq(sql, now);
    expect(at(1_000).isAhead(0)).toBe(false);
    expect(at(1_000).isAhead(last)).toBe(false);
    expect(at(1_000).isAhead(last + 1)).toBe(true);
    // Later the clock's worth is past it: a cursor from before a wiped state still polls.
    expect(at(5_000).isAhead(4_000_000)).toBe(false);
    expect(at(5_000).isAhead(Number.MAX_SAFE_INTEGER)).toBe(true);
  });
});
