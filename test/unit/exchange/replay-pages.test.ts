/** Paging of the outbox replay (replay-pages.ts): merged, bounded pages and the next-page rule. */
import { describe, expect, it } from "vitest";
import {
  afterAcks,
  cursorAfter,
  type PendingOutcome,
  readReplayCursor,
  takePage,
} from "../../../durable-objects/exchange/replay-pages.js";

function outcomes(keys: readonly number[], size = 1): PendingOutcome[] {
  return keys.map((key) => ({ key, text: `${key}`.padEnd(size, ".") }));
}

const keysOf = (texts: readonly string[]) => texts.map((t) => Number.parseInt(t, 10));

describe("takePage", () => {
  it("merges the stored and in-memory outcomes in key order, after the cursor", () => {
    const page = takePage(2, [outcomes([1, 3, 4, 8]), outcomes([2, 5, 9])], 100, 1_000);
    expect(keysOf(page.texts)).toEqual([3, 4, 5, 8, 9]);
    expect(page).toMatchObject({ last: 9, more: false });
  });

  it("stops at the frame limit and says more is left", () => {
    const page = takePage(0, [outcomes([1, 2, 3, 4, 5])], 3, 1_000);
    expect(keysOf(page.texts)).toEqual([1, 2, 3]);
    expect(page).toMatchObject({ last: 3, more: true });
  });

  it("stops at the byte limit, but always takes one outcome however large", () => {
    const page = takePage(0, [outcomes([1, 2, 3], 40)], 100, 100);
    expect(keysOf(page.texts)).toEqual([1, 2]);
    expect(page.more).toBe(true);
    const huge = takePage(0, [outcomes([1, 2], 500)], 100, 100);
    expect(keysOf(huge.texts)).toEqual([1]);
    expect(huge.more).toBe(true);
  });

  it("is not full when the last outcome exactly fills it and nothing is left", () => {
    const page = takePage(0, [outcomes([1, 2, 3])], 3, 1_000);
    expect(page.more).toBe(false);
    expect(cursorAfter(page)).toBeUndefined();
  });

  it("finds nothing after a cursor past every outcome, keeping the cursor", () => {
    const page = takePage(10, [outcomes([1, 2]), outcomes([3])], 100, 1_000);
    expect(page).toEqual({ texts: [], last: 10, more: false });
  });

  it("pages 2,500 outcomes through in pages of 1,000, each once, with outcomes stored meanwhile after them", () => {
    const stored = Array.from({ length: 2_500 }, (_, i) => i + 1);
    const memory: number[] = [];
    const seen: number[] = [];
    let after = 0;
    let pages = 0;
    for (let more = true; more; ) {
      const page = takePage(after, [outcomes(stored), outcomes(memory)], 1_000, 1 << 20);
      seen.push(...keysOf(page.texts));
      pages++;
      // An outcome arrives while the replay pages: it gets the next key.
      if (pages === 1) memory.push(2_501);
      after = page.last;
      more = cursorAfter(page) !== undefined;
    }
    expect(pages).toBe(3);
    expect(seen).toEqual([...stored, 2_501]);
  });
});

describe("the next page", () => {
  it("is due once what was sent and not acked is down to half a page", () => {
    const cursor = { after: 7, outstanding: 1_000, page: 1_000 };
    const some = afterAcks(cursor, 499);
    expect(some).toEqual({ cursor: { after: 7, outstanding: 501, page: 1_000 }, due: false });
    expect(afterAcks(some.cursor, 1).due).toBe(true);
  });

  it("counts what earlier pages left unacked", () => {
    const page = takePage(0, [outcomes([1, 2, 3, 4])], 2, 1_000);
    expect(cursorAfter(page, 1)).toEqual({ after: 2, outstanding: 3, page: 2 });
  });

  it("keeps at most a page and a half unacked, however the client splits its acks", () => {
    for (const ackSize of [1, 100, 250, 333, 500, 1_000]) {
      const stored = Array.from({ length: 20_000 }, (_, i) => i + 1);
      let cursor = cursorAfter(takePage(0, [outcomes(stored)], 1_000, 1e9));
      let sent = 1_000;
      let acked = 0;
      let most = sent;
      while (cursor !== undefined && acked < stored.length) {
        const ids = Math.min(ackSize, sent - acked);
        acked += ids;
        const step = afterAcks(cursor, ids);
        cursor = step.cursor;
        if (step.due) {
          const page = takePage(cursor.after, [outcomes(stored)], 1_000, 1e9);
          sent += page.texts.length;
          cursor = cursorAfter(page, cursor.outstanding);
        }
        most = Math.max(most, sent - acked);
      }
      expect(most).toBeLessThanOrEqual(1_500);
      expect(sent).toBe(stored.length);
    }
  });
});

describe("readReplayCursor", () => {
  it("reads back a cursor it wrote", () => {
    const cursor = { after: 1_795_989_819_570_005, outstanding: 997, page: 1_000 };
    expect(readReplayCursor(structuredClone(cursor))).toEqual(cursor);
  });

  it.each([
    ["null", null],
    ["a negative key", { after: -1, outstanding: 1, page: 1 }],
    ["a fraction", { after: 1.5, outstanding: 1, page: 1 }],
    ["a missing count", { after: 1, outstanding: 1 }],
    ["an older cursor's shape", { after: 1, sent: 1, acked: 0 }],
  ])("refuses %s", (_name, value) => {
    expect(readReplayCursor(value)).toBeUndefined();
  });
});
