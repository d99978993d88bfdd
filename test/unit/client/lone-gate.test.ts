import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { enterGate, LoneGate, runsAlone } from "../../../client/lone-gate.js";

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("runsAlone", () => {
  it("is the last allowed dispatch after a lost lease", () => {
    expect(runsAlone(1, 3)).toBe(false);
    expect(runsAlone(2, 3)).toBe(false);
    expect(runsAlone(3, 3)).toBe(true);
    expect(runsAlone(2, 2)).toBe(true);
    expect(runsAlone(1, 1)).toBe(false);
  });
});

describe("LoneGate", () => {
  const later = () => Date.now() + 60_000;

  it("lets other handlers start together while no lone one waits", () => {
    const gate = new LoneGate();
    const a = {};
    const b = {};
    gate.arrive(a, false, later());
    gate.arrive(b, false, later());
    expect(gate.admit(a)).toBe("start");
    gate.start(a);
    expect(gate.admit(b)).toBe("start");
  });

  it("hands other handlers on at once when no lone one is involved", () => {
    const gate = new LoneGate();
    const wakes = vi.fn();
    gate.listen(wakes);
    const a = {};
    gate.arrive(a, false, later());
    gate.start(a)();
    expect(wakes).toHaveBeenCalledTimes(1);
    expect(gate.admit({})).toBe("start");
  });

  it("starts a lone one once the others end, and nothing beside it", () => {
    const gate = new LoneGate();
    const wakes = vi.fn();
    gate.listen(wakes);
    const running = {};
    gate.arrive(running, false, later());
    const release = gate.start(running);
    const lone = {};
    gate.arrive(lone, true, later());
    expect(gate.admit(lone)).toBe("wait");
    const other = {};
    gate.arrive(other, false, later());
    expect(gate.admit(other)).toBe("wait");
    release();
    // Not before the next macrotask: the answers handed to sockets go out first.
    expect(gate.admit(lone)).toBe("wait");
    expect(wakes).not.toHaveBeenCalled();
    vi.advanceTimersByTime(0);
    expect(wakes).toHaveBeenCalled();
    expect(gate.admit(other)).toBe("wait");
    expect(gate.admit(lone)).toBe("start");
    const releaseLone = gate.start(lone);
    expect(gate.admit(other)).toBe("wait");
    releaseLone();
    expect(gate.admit(other)).toBe("wait");
    vi.advanceTimersByTime(0);
    expect(gate.admit(other)).toBe("start");
  });

  it("starts lone ones one at a time, in arrival order", () => {
    const gate = new LoneGate();
    const first = {};
    const second = {};
    gate.arrive(first, true, later());
    gate.arrive(second, true, later());
    expect(gate.admit(second)).toBe("wait");
    const release = gate.start(first);
    expect(gate.admit(second)).toBe("wait");
    release();
    release();
    vi.advanceTimersByTime(0);
    expect(gate.admit(second)).toBe("start");
  });

  it("forgets a lone one that left, waking the others", () => {
    const gate = new LoneGate();
    const wakes = vi.fn();
    gate.listen(wakes);
    const lone = {};
    const other = {};
    gate.arrive(lone, true, later());
    expect(gate.admit(other)).toBe("wait");
    gate.leave(lone);
    expect(wakes).toHaveBeenCalledTimes(1);
    expect(gate.admit(other)).toBe("start");
  });

  it("drops a waiting lone one at its deadline, waking the others", async () => {
    const gate = new LoneGate();
    const wakes = vi.fn();
    const stop = gate.listen(wakes);
    const running = {};
    gate.arrive(running, false, later());
    gate.start(running);
    const lone = {};
    gate.arrive(lone, true, Date.now() + 1_000);
    const other = {};
    expect(gate.admit(other)).toBe("wait");
    await vi.advanceTimersByTimeAsync(999);
    expect(gate.admit(lone)).toBe("wait");
    await vi.advanceTimersByTimeAsync(2);
    expect(wakes).toHaveBeenCalledTimes(1);
    expect(gate.admit(lone)).toBe("drop");
    expect(gate.admit(other)).toBe("start");
    stop();
  });

  it("enterGate waits for its turn, or leaves when its request ends", async () => {
    const gate = new LoneGate();
    const running = {};
    gate.arrive(running, false, later());
    const release = gate.start(running);
    const lone = {};
    gate.arrive(lone, true, later());
    const entered = enterGate(gate, lone, new AbortController().signal);
    const other = {};
    gate.arrive(other, false, later());
    const controller = new AbortController();
    const ended = enterGate(gate, other, controller.signal);
    let releaseLone: (() => void) | undefined;
    void entered.then((free) => {
      releaseLone = free;
    });
    await Promise.resolve();
    expect(releaseLone).toBeUndefined();
    release();
    await vi.advanceTimersByTimeAsync(0);
    expect(releaseLone).toBeTypeOf("function");
    controller.abort();
    expect(await ended).toBeUndefined();
    releaseLone?.();
    await vi.advanceTimersByTimeAsync(0);
    const third = {};
    gate.arrive(third, false, later());
    expect(await enterGate(gate, third, new AbortController().signal)).toBeTypeOf("function");
  });
});
