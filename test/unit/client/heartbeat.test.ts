/**
 * The SDK's keep-alive (client/heartbeat.ts) on a fake socket and fake timers: its ping pace when
 * idle and when busy, and when it calls a silent socket dead.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Heartbeat } from "../../../client/heartbeat.js";
import type { WebSocketLike } from "../../../client/websocket.js";

/** A socket that records what it was sent; nothing ever answers. */
function silentSocket(): WebSocketLike & { pings: () => number } {
  const sent: string[] = [];
  return {
    readyState: 1,
    send: (data: string) => void sent.push(data),
    close: () => {},
    onopen: null,
    onmessage: null,
    onclose: null,
    onerror: null,
    pings: () => sent.filter((data) => data === "ping").length,
  };
}

interface Run {
  socket: ReturnType<typeof silentSocket>;
  heartbeat: Heartbeat;
  timeouts: () => number;
  setBusy(busy: boolean): void;
}

function run(busyAtStart: boolean, answer = false): Run {
  const socket = silentSocket();
  const heartbeat = new Heartbeat();
  let busy = busyAtStart;
  let timeouts = 0;
  if (answer) {
    const send = socket.send;
    socket.send = (data: string) => {
      send(data);
      heartbeat.heard();
    };
  }
  heartbeat.start(socket, {
    isCurrent: () => true,
    onTimeout: () => {
      timeouts += 1;
    },
    isBusy: () => busy,
  });
  return {
    socket,
    heartbeat,
    timeouts: () => timeouts,
    setBusy: (value) => {
      busy = value;
    },
  };
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe("an idle socket's heartbeat", () => {
  it("pings every 15 s and calls the socket dead 30 s after an unanswered ping", async () => {
    const idle = run(false);
    await vi.advanceTimersByTimeAsync(14_999);
    expect(idle.socket.pings()).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(idle.socket.pings()).toBe(1);
    await vi.advanceTimersByTimeAsync(15_000);
    expect(idle.socket.pings()).toBe(2);
    await vi.advanceTimersByTimeAsync(14_999);
    expect(idle.timeouts()).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(idle.timeouts()).toBe(1);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(idle.timeouts()).toBe(1);
    expect(idle.socket.pings()).toBe(2);
  });

  it("keeps a socket whose pings are answered alive", async () => {
    const answered = run(false, true);
    await vi.advanceTimersByTimeAsync(300_000);
    expect(answered.timeouts()).toBe(0);
    expect(answered.socket.pings()).toBe(20);
  });

  it("stops quietly once the socket is no longer its connection's", async () => {
    const socket = silentSocket();
    const heartbeat = new Heartbeat();
    let current = true;
    let timeouts = 0;
    heartbeat.start(socket, {
      isCurrent: () => current,
      onTimeout: () => {
        timeouts += 1;
      },
    });
    await vi.advanceTimersByTimeAsync(15_000);
    current = false;
    await vi.advanceTimersByTimeAsync(120_000);
    expect(socket.pings()).toBe(1);
    expect(timeouts).toBe(0);
  });
});

describe("a busy socket's heartbeat (requests or leases in flight)", () => {
  it("pings every 5 s and calls the socket dead 10 s after an unanswered ping", async () => {
    const busy = run(true);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(busy.socket.pings()).toBe(1);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(busy.socket.pings()).toBe(2);
    await vi.advanceTimersByTimeAsync(4_999);
    expect(busy.timeouts()).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(busy.timeouts()).toBe(1);
  });

  it("keeps pinging every 5 s while answered, and goes back to 15 s once idle", async () => {
    const answered = run(true, true);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(answered.socket.pings()).toBe(12);
    answered.setBusy(false);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(answered.socket.pings()).toBe(16);
    expect(answered.timeouts()).toBe(0);
  });

  it("speeds up within 5 s when an idle socket turns busy", async () => {
    const turning = run(false);
    await vi.advanceTimersByTimeAsync(16_000);
    expect(turning.socket.pings()).toBe(1);
    // That ping was answered; the socket goes quiet and its owner starts waiting on it.
    turning.heartbeat.heard();
    turning.setBusy(true);
    await vi.advanceTimersByTimeAsync(4_000);
    expect(turning.socket.pings()).toBe(2);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(turning.timeouts()).toBe(1);
  });

  it("does not call a socket dead for a ping it sent before it was answered", async () => {
    const busy = run(true);
    await vi.advanceTimersByTimeAsync(9_000);
    busy.heartbeat.heard();
    await vi.advanceTimersByTimeAsync(10_999);
    expect(busy.timeouts()).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(busy.timeouts()).toBe(1);
  });
});
