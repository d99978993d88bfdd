/** The queue's marks of identities at their exchange's outbox cap, and how they are lifted. */
import { describe, expect, it } from "vitest";
import {
  CAP_RECHECK_MS,
  CappedIdentities,
  MAX_CAPPED_IDENTITIES,
} from "../../../durable-objects/queue/capped-identities.js";

/** A CappedIdentities whose checks answer from `answers` (in order) and are counted. */
function setup(answers: (string | undefined | Error)[] = []) {
  const asked: string[] = [];
  const pending: Promise<unknown>[] = [];
  const capped = new CappedIdentities(
    async (identity) => {
      asked.push(identity);
      const answer = answers.shift();
      if (answer instanceof Error) throw answer;
      return answer;
    },
    (work) => pending.push(work),
  );
  const settle = () => Promise.all(pending.splice(0));
  return { capped, asked, settle };
}

describe("identities at their exchange's outbox cap", () => {
  it("refuses nothing for an identity the exchange never said was capped", () => {
    const { capped, asked } = setup();
    expect(capped.refusal("alice", 0)).toBeUndefined();
    expect(asked).toEqual([]);
  });

  it("refuses with the exchange's message, without asking again within the recheck time", () => {
    const { capped, asked } = setup();
    capped.mark("alice", "at cap", 1_000);
    expect(capped.refusal("alice", 1_000)).toBe("at cap");
    expect(capped.refusal("alice", 1_000 + CAP_RECHECK_MS - 1)).toBe("at cap");
    expect(capped.refusal("bob", 1_000)).toBeUndefined();
    expect(asked).toEqual([]);
  });

  it("asks the exchange once a mark is old, still refusing that request, and lifts it when the exchange says it is under its cap", async () => {
    const { capped, asked, settle } = setup([undefined]);
    capped.mark("alice", "at cap", 1_000);
    expect(capped.refusal("alice", 1_000 + CAP_RECHECK_MS)).toBe("at cap");
    // One check at a time: a second request while it runs does not ask again.
    expect(capped.refusal("alice", 1_000 + CAP_RECHECK_MS + 1)).toBe("at cap");
    expect(asked).toEqual(["alice"]);
    await settle();
    expect(capped.refusal("alice", 1_000 + CAP_RECHECK_MS + 2)).toBeUndefined();
    expect(capped.size).toBe(0);
  });

  it("keeps the mark, with the exchange's new message, while the identity is still at its cap", async () => {
    const { capped, asked, settle } = setup(["still at cap"]);
    capped.mark("alice", "at cap", 1_000);
    capped.refusal("alice", 1_000 + CAP_RECHECK_MS);
    await settle();
    const later = Date.now();
    expect(capped.refusal("alice", later)).toBe("still at cap");
    expect(asked).toEqual(["alice"]);
  });

  it("keeps the mark when the check fails, and asks again later", async () => {
    const { capped, asked, settle } = setup([new Error("exchange down"), undefined]);
    capped.mark("alice", "at cap", 1_000);
    capped.refusal("alice", 1_000 + CAP_RECHECK_MS);
    await settle();
    const failedAt = Date.now();
    expect(capped.refusal("alice", failedAt)).toBe("at cap");
    expect(asked).toHaveLength(1);
    capped.refusal("alice", failedAt + CAP_RECHECK_MS + 1_000);
    await settle();
    expect(asked).toEqual(["alice", "alice"]);
    expect(capped.refusal("alice", failedAt + CAP_RECHECK_MS + 1_001)).toBeUndefined();
  });

  it("holds at most MAX_CAPPED_IDENTITIES marks, forgetting the oldest first", () => {
    const { capped } = setup();
    for (let i = 0; i <= MAX_CAPPED_IDENTITIES; i++) capped.mark(`id-${i}`, "at cap", 1_000);
    expect(capped.size).toBe(MAX_CAPPED_IDENTITIES);
    expect(capped.refusal("id-0", 1_000)).toBeUndefined();
    expect(capped.refusal(`id-${MAX_CAPPED_IDENTITIES}`, 1_000)).toBe("at cap");
  });
});
