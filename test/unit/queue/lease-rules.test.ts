/** Which server answers are accepted, what a lost lease becomes, and which dispatches run alone. */
import { describe, expect, it } from "vitest";
import {
  afterLeaseLoss,
  checkAnswer,
  type LeaseView,
  loneAttempt,
  runsAlone,
} from "../../../durable-objects/queue/lease-rules.js";

const leased = (leaseConn: string, deadline = 10_000): LeaseView => ({
  state: "leased",
  leaseConn,
  deadline,
});

function codeOf(row: LeaseView | undefined, connId: string, now: number): string {
  const result = checkAnswer(row, connId, now);
  return result.ok ? "ok" : result.error.code;
}

describe("checkAnswer", () => {
  it("accepts an answer from the lessee before the deadline", () => {
    expect(codeOf(leased("c1"), "c1", 5_000)).toBe("ok");
  });

  it("refuses an answer from another connection with forbidden", () => {
    expect(codeOf(leased("c1"), "c2", 5_000)).toBe("forbidden");
  });

  it("refuses an unknown request and a request back in the queue with forbidden", () => {
    expect(codeOf(undefined, "c1", 5_000)).toBe("forbidden");
    expect(codeOf({ state: "queued", leaseConn: null, deadline: 10_000 }, "c1", 5_000)).toBe(
      "forbidden",
    );
  });

  it("refuses a second answer from the lessee with conflict", () => {
    expect(codeOf({ state: "done", leaseConn: "c1", deadline: 10_000 }, "c1", 5_000)).toBe(
      "conflict",
    );
  });

  it("refuses an answer to an ended request with forbidden when it was never this connection's", () => {
    expect(codeOf({ state: "done", leaseConn: "c1", deadline: 10_000 }, "c2", 5_000)).toBe(
      "forbidden",
    );
    expect(codeOf({ state: "done", leaseConn: "c1", deadline: 10_000 }, "c2", 12_000)).toBe(
      "forbidden",
    );
    expect(codeOf({ state: "done", leaseConn: null, deadline: 10_000 }, "c2", 12_000)).toBe(
      "forbidden",
    );
  });

  it("refuses an answer after the deadline with expired, leased or already ended", () => {
    expect(codeOf(leased("c1"), "c1", 10_000)).toBe("expired");
    expect(codeOf({ state: "done", leaseConn: "c1", deadline: 10_000 }, "c1", 12_000)).toBe(
      "expired",
    );
  });
});

describe("afterLeaseLoss", () => {
  it("requeues a request below maxAttempts dispatches and fails it at the limit", () => {
    expect(afterLeaseLoss(1, 3)).toBe("requeue");
    expect(afterLeaseLoss(2, 3)).toBe("requeue");
    expect(afterLeaseLoss(3, 3)).toBe("fail");
  });
});

describe("runsAlone", () => {
  it("sets apart the last allowed dispatch of a request that lost a lease before", () => {
    // maxAttempts 3: dispatches 1 and 2 share servers, the third (after two lost leases) runs alone.
    expect([0, 1, 2].map((attempt) => runsAlone(attempt, 3))).toEqual([false, false, true]);
    expect([0, 1].map((attempt) => runsAlone(attempt, 2))).toEqual([false, true]);
    expect(loneAttempt(3)).toBe(3);
    expect(loneAttempt(2)).toBe(2);
  });

  it("never sets apart a first dispatch, so maxAttempts 1 changes nothing", () => {
    expect(runsAlone(0, 1)).toBe(false);
    expect(loneAttempt(1)).toBe(2);
  });
});
