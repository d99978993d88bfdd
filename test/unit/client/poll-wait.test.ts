/**
 * The outcome poll's wait (client/poll-wait.ts): two polls in a row cut after about the same time
 * (a proxy's idle timeout) make later polls wait a fifth less than it; one cut alone, a cut too
 * soon to be a timeout, or cuts far apart change nothing, and never below the floor.
 */
import { describe, expect, it } from "vitest";
import { MIN_CUT_MS, MIN_POLL_WAIT_MS, PollWait } from "../../../client/poll-wait.js";

describe("the outcome poll's wait", () => {
  it("drops below a proxy's timeout once two polls in a row are cut at it", () => {
    const wait = new PollWait(25_000);
    wait.cut(10_000);
    expect(wait.current).toBe(25_000);
    wait.cut(9_000);
    expect(wait.current).toBe(7_200);
  });

  it("keeps its wait after one cut (a relay restart), or cuts an answer separates", () => {
    const wait = new PollWait(25_000);
    wait.cut(10_000);
    wait.answered();
    wait.cut(10_000);
    expect(wait.current).toBe(25_000);
  });

  it("ignores cuts too soon to be a timeout, far apart, or not before the wait ran out", () => {
    const wait = new PollWait(25_000);
    wait.cut(MIN_CUT_MS - 1);
    wait.cut(MIN_CUT_MS - 1);
    expect(wait.current).toBe(25_000);
    wait.cut(4_000);
    wait.cut(12_000);
    expect(wait.current).toBe(25_000);
    wait.cut(25_000);
    wait.cut(25_000);
    expect(wait.current).toBe(25_000);
  });

  it("never asks less than its floor, and never more after it shrank", () => {
    const wait = new PollWait(25_000);
    wait.cut(MIN_CUT_MS);
    wait.cut(MIN_CUT_MS);
    expect(wait.current).toBe(Math.max(MIN_POLL_WAIT_MS, Math.floor(MIN_CUT_MS * 0.8)));
    const shrunk = wait.current;
    wait.cut(shrunk - 1);
    expect(wait.current).toBeLessThanOrEqual(shrunk);
  });
});
