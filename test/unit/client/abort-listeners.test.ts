/**
 * onAbort (client/abort-listeners.ts): callbacks of many waiters on one AbortSignal share one
 * listener on it, called in order when it aborts, as listeners would be.
 */
import { getEventListeners } from "node:events";
import { describe, expect, it } from "vitest";
import { onAbort } from "../../../client/abort-listeners.js";

describe("onAbort", () => {
  it("holds one listener for many callbacks, none once they are all removed", () => {
    const controller = new AbortController();
    const removers = Array.from({ length: 20 }, () => onAbort(controller.signal, () => {}));
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(1);
    for (const remove of removers) remove();
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
  });

  it("calls every callback once, in order, when the signal aborts", () => {
    const controller = new AbortController();
    const called: number[] = [];
    for (let i = 0; i < 3; i++) onAbort(controller.signal, () => called.push(i));
    const removed = onAbort(controller.signal, () => called.push(99));
    removed();
    controller.abort();
    controller.abort();
    expect(called).toEqual([0, 1, 2]);
  });

  it("does not call a callback that an earlier one removed as the signal aborted", () => {
    const controller = new AbortController();
    const called: string[] = [];
    let removeSecond = () => {};
    onAbort(controller.signal, () => {
      called.push("first");
      removeSecond();
    });
    removeSecond = onAbort(controller.signal, () => called.push("second"));
    controller.abort();
    expect(called).toEqual(["first"]);
  });
});
