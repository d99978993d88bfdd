/** When a token on a live connection counts as expired, and when the alarm must wake. */
import { describe, expect, it } from "vitest";
import {
  closeAt,
  connectionRefusal,
  earliest,
  NEVER_EXPIRES,
  nextExpiry,
  RECONNECT_REASON,
  TOKEN_EXPIRED_REASON,
  tokenExpired,
} from "../../../durable-objects/shared/token-expiry.js";
import { TOKEN_SKEW_SECONDS } from "../../../protocol/index.js";

const skew = TOKEN_SKEW_SECONDS * 1000;

describe("token expiry on live connections", () => {
  it("allows the same clock skew as the front door, then expires", () => {
    expect(tokenExpired(10_000, 10_000)).toBe(false);
    expect(tokenExpired(10_000, 10_000 + skew - 1)).toBe(false);
    expect(tokenExpired(10_000, 10_000 + skew)).toBe(true);
  });

  it("never expires a dev-mode principal", () => {
    expect(closeAt(NEVER_EXPIRES)).toBeUndefined();
    expect(tokenExpired(NEVER_EXPIRES, Number.MAX_SAFE_INTEGER)).toBe(false);
  });

  it("wakes for the earliest future expiry only, ignoring passed and never-expiring ones", () => {
    const now = 100_000;
    expect(nextExpiry([NEVER_EXPIRES, now + 5_000, now + 1_000, now - skew], now)).toBe(
      now + 1_000 + skew,
    );
    expect(nextExpiry([NEVER_EXPIRES], now)).toBeUndefined();
    expect(nextExpiry([], now)).toBeUndefined();
  });

  it("combines optional times into the earliest", () => {
    expect(earliest(undefined, 5, 3, undefined)).toBe(3);
    expect(earliest(undefined)).toBeUndefined();
  });
});

describe("whether a live connection may still act", () => {
  it("lets a connection act until its token expires, then refuses with token expired", () => {
    expect(connectionRefusal(1_000, false, 1_000)).toBeUndefined();
    expect(connectionRefusal(1_000, false, 1_000 + skew)).toBe(TOKEN_EXPIRED_REASON);
  });

  it("never refuses a dev-mode principal", () => {
    expect(connectionRefusal(NEVER_EXPIRES, true, Date.now())).toBeUndefined();
  });

  it("asks a socket that predates token checks to reconnect, outside dev mode only", () => {
    expect(connectionRefusal(undefined, false, 0)).toBe(RECONNECT_REASON);
    expect(connectionRefusal(undefined, true, 0)).toBeUndefined();
  });
});
