/** The queue's marks of identities at their exchange's outbox cap, and how they are lifted. */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  CAP_CHECK_TIMEOUT_MS,
  CAP_RECHECK_MS,
  CappedIdentities,
  MAX_CAPPED_IDENTITIES,
} from "../../../durable-objects/queue/capped-identities.js";

type Answer = string | undefined | Error;

/** A CappedIdentities whose checks wait until `answer` is called, in the order they were asked. */
function setup() {
  const asked: string[] = [];
  const waiting: ((answer: Answer) => void)[] = [];
  const pending: Promise<unknown>[] = [];
  const capped = new CappedIdentities(
    (identity) => {
      asked.push(identity);
      return new Promise<string | undefined>((resolve, reject) => {
        waiting.push((answer) => (answer instanceof Error ? reject(answer) : resolve(answer)));
      });
    },
    (work) => pending.push(work),
  );
  /** Answers the oldest check still waiting, and lets its answer land. */
  const answer = async (value: Answer) => {
    waiting.shift()?.(value);
    await pending.shift();
  };
  return { capped, asked, answer };
}

const T = 1_000_000;

describe("identities at their exchange's outbox cap", () => {
  // A check's answer marks at Date.now(), which a test then reads: a frozen clock, so a stall
  // between the two can never take them CAP_RECHECK_MS apart.
  beforeEach(() => {
    vi.useFakeTimers({ now: T + CAP_RECHECK_MS });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("refuses nothing for an identity the exchange never said was capped", () => {
    const { capped, asked } = setup();
    expect(capped.refusal("alice", T)).toBeUndefined();
    expect(asked).toEqual([]);
  });

  it("refuses with the exchange's message for CAP_RECHECK_MS after the exchange said so", () => {
    const { capped, asked } = setup();
    capped.mark("alice", "at cap", T);
    expect(capped.refusal("alice", T)).toBe("at cap");
    expect(capped.refusal("alice", T + CAP_RECHECK_MS - 1)).toBe("at cap");
    expect(capped.refusal("bob", T)).toBeUndefined();
    expect(asked).toEqual([]);
  });

  it("then admits while it asks the exchange once, and lifts the mark when the answer is under", async () => {
    const { capped, asked, answer } = setup();
    capped.mark("alice", "at cap", T);
    expect(capped.refusal("alice", T + CAP_RECHECK_MS)).toBeUndefined();
    expect(capped.refusal("alice", T + CAP_RECHECK_MS + 1)).toBeUndefined();
    expect(asked).toEqual(["alice"]);
    await answer(undefined);
    expect(capped.size).toBe(0);
  });

  it("refuses again when the exchange answers that the identity is still at its cap", async () => {
    const { capped, asked, answer } = setup();
    capped.mark("alice", "at cap", T);
    capped.refusal("alice", T + CAP_RECHECK_MS);
    await answer("still at cap");
    expect(capped.refusal("alice", Date.now())).toBe("still at cap");
    expect(asked).toEqual(["alice"]);
  });

  it("keeps a mark a delivery renewed while a check was in flight, whatever the check answers", async () => {
    const { capped, answer } = setup();
    capped.mark("alice", "at cap", T);
    capped.refusal("alice", T + CAP_RECHECK_MS);
    capped.mark("alice", "at cap, again", Date.now());
    await answer(undefined);
    expect(capped.refusal("alice", Date.now())).toBe("at cap, again");
  });

  it("keeps a mark, admitting, when a check fails, and asks again once that check times out", async () => {
    const { capped, asked, answer } = setup();
    capped.mark("alice", "at cap", T);
    capped.refusal("alice", T + CAP_RECHECK_MS);
    await answer(new Error("exchange down"));
    expect(capped.size).toBe(1);
    expect(capped.refusal("alice", T + CAP_RECHECK_MS + 1)).toBeUndefined();
    expect(asked).toHaveLength(1);
    capped.refusal("alice", T + CAP_RECHECK_MS + CAP_CHECK_TIMEOUT_MS);
    expect(asked).toEqual(["alice", "alice"]);
    await answer(undefined);
    expect(capped.size).toBe(0);
  });

  it("starts another check when one never answers, and ignores the late answer of the old one", async () => {
    const { capped, asked, answer } = setup();
    capped.mark("alice", "at cap", T);
    capped.refusal("alice", T + CAP_RECHECK_MS);
    capped.refusal("alice", T + CAP_RECHECK_MS + CAP_CHECK_TIMEOUT_MS);
    expect(asked).toEqual(["alice", "alice"]);
    await answer(undefined); // the first, timed-out check: ignored
    expect(capped.size).toBe(1);
    await answer(undefined);
    expect(capped.size).toBe(0);
  });

  it("holds at most MAX_CAPPED_IDENTITIES marks, forgetting the least recently marked first", () => {
    const { capped } = setup();
    for (let i = 0; i < MAX_CAPPED_IDENTITIES; i++) capped.mark(`id-${i}`, "at cap", T);
    capped.mark("id-0", "at cap", T); // marked again: now the most recent
    capped.mark("newcomer", "at cap", T);
    expect(capped.size).toBe(MAX_CAPPED_IDENTITIES);
    expect(capped.refusal("id-0", T)).toBe("at cap");
    expect(capped.refusal("id-1", T)).toBeUndefined();
    expect(capped.refusal("newcomer", T)).toBe("at cap");
  });
});
