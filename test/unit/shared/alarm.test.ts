/**
 * The alarm rule both Durable Objects share (durable-objects/shared/alarm.ts): an alarm is never
 * pushed back, but one stored more than ALARM_OVERDUE_MS in the past never ran and is set again.
 */
import { describe, expect, it } from "vitest";
import { ALARM_OVERDUE_MS, needsAlarm } from "../../../durable-objects/shared/alarm.js";

const NOW = 1_000_000;

describe("needsAlarm", () => {
  it("sets an alarm when none is stored, or the stored one is later than wanted", () => {
    expect(needsAlarm(null, NOW + 5_000, NOW)).toBe(true);
    expect(needsAlarm(NOW + 9_000, NOW + 5_000, NOW)).toBe(true);
  });

  it("keeps a stored alarm due no later than wanted, a late-running one included", () => {
    expect(needsAlarm(NOW + 5_000, NOW + 5_000, NOW)).toBe(false);
    expect(needsAlarm(NOW + 1_000, NOW + 5_000, NOW)).toBe(false);
    expect(needsAlarm(NOW - ALARM_OVERDUE_MS, NOW + 5_000, NOW)).toBe(false);
  });

  it("sets again a stored alarm long overdue, which never ran (the exchange's purges, the queue's deadlines)", () => {
    expect(needsAlarm(NOW - ALARM_OVERDUE_MS - 1, NOW + 5_000, NOW)).toBe(true);
    expect(needsAlarm(NOW - 600_000, NOW + 300_000, NOW)).toBe(true);
  });
});
