/** Deadline classification, lease length and the single alarm time. */
import { describe, expect, it } from "vitest";
import {
  expiryError,
  isExpired,
  leaseUntil,
  nextAlarm,
} from "../../../durable-objects/queue/deadlines.js";

describe("deadlines", () => {
  it("treats a request as expired from its deadline onwards", () => {
    expect(isExpired(1_000, 999)).toBe(false);
    expect(isExpired(1_000, 1_000)).toBe(true);
  });

  it("ends an expired request with timeout when a server was seen, else no_responders", () => {
    expect(expiryError(true).code).toBe("timeout");
    expect(expiryError(false).code).toBe("no_responders");
  });

  it("caps a lease at the request's deadline", () => {
    expect(leaseUntil(1_000, 50_000, 30_000)).toBe(31_000);
    expect(leaseUntil(1_000, 5_000, 30_000)).toBe(5_000);
  });

  it("sets the alarm to the earliest pending timer, and none when nothing is pending", () => {
    const timers = {
      nextDeadline: 900,
      nextLeaseEnd: 400,
      nextDeliveryRetry: undefined,
      nextPurge: 2_000,
    };
    expect(nextAlarm(timers)).toBe(400);
    const none = {
      nextDeadline: undefined,
      nextLeaseEnd: undefined,
      nextDeliveryRetry: undefined,
      nextPurge: undefined,
    };
    expect(nextAlarm(none)).toBeUndefined();
  });
});
