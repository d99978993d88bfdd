/** An HTTP request's timeout counts from when the front door received the POST (request-receipt.ts). */
import { describe, expect, it } from "vitest";
import { requestFromReceipt } from "../../../durable-objects/exchange/request-receipt.js";
import type { RequestFrame } from "../../../protocol/index.js";

const request: RequestFrame = {
  type: "request",
  id: "r1",
  queue: "q",
  body: { enc: "utf8", data: "x" },
  timeout: 5_000,
};

describe("requestFromReceipt", () => {
  it("takes the time the POST waited off its timeout, or off the default when it named none", () => {
    expect(requestFromReceipt({ request, receivedAt: 9_300 }, 30_000, 10_000).timeout).toBe(4_300);
    const { timeout: _, ...none } = request;
    expect(requestFromReceipt({ request: none, receivedAt: 9_000 }, 30_000, 10_000).timeout).toBe(
      29_000,
    );
  });

  it("leaves at least 1 ms, and takes nothing off for no receipt time or one ahead of the clock", () => {
    expect(requestFromReceipt({ request, receivedAt: 0 }, 30_000, 10_000).timeout).toBe(1);
    expect(requestFromReceipt({ request }, 30_000, 10_000)).toBe(request);
    expect(requestFromReceipt({ request, receivedAt: 10_500 }, 30_000, 10_000)).toBe(request);
  });
});
