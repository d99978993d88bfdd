/** A handler's abort signal, made when first read (client/handler-signal.ts). */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { HandlerSignal } from "../../../client/handler-signal.js";
import { EdgeMQError } from "../../../protocol/index.js";

describe("HandlerSignal", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(1_000_000);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("sets no timer until the signal is read, and then aborts it at the deadline with timeout", () => {
    const abort = new HandlerSignal(Date.now() + 500);
    expect(vi.getTimerCount()).toBe(0);
    const signal = abort.signal;
    expect(signal.aborted).toBe(false);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(500);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBeInstanceOf(EdgeMQError);
    expect((signal.reason as EdgeMQError).code).toBe("timeout");
  });

  it("is already aborted when read after a cancel, with the cancel's reason", () => {
    const abort = new HandlerSignal(Date.now() + 500);
    const reason = new EdgeMQError("cancelled", "request cancelled by the relay");
    abort.abort(reason);
    expect(abort.signal.aborted).toBe(true);
    expect(abort.signal.reason).toBe(reason);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("is already aborted with timeout when first read after the deadline", () => {
    const abort = new HandlerSignal(Date.now() + 500);
    vi.advanceTimersByTime(600);
    expect(abort.signal.aborted).toBe(true);
    expect((abort.signal.reason as EdgeMQError).code).toBe("timeout");
  });

  it("aborts a signal already read on cancel, keeps the first reason, and stops its timer", () => {
    const abort = new HandlerSignal(Date.now() + 500);
    const signal = abort.signal;
    const first = new EdgeMQError("cancelled", "first");
    abort.abort(first);
    abort.abort(new EdgeMQError("timeout", "second"));
    expect(signal.reason).toBe(first);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("leaves no timer once the handler is done, and sets none if read after that", () => {
    const abort = new HandlerSignal(Date.now() + 500);
    void abort.signal;
    abort.done();
    expect(vi.getTimerCount()).toBe(0);
    const late = new HandlerSignal(Date.now() + 500);
    late.done();
    expect(late.signal.aborted).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });
});
