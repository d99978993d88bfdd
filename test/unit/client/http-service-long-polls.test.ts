/**
 * How many takes an HTTP server keeps waiting at the relay. A browser allows 6 connections per
 * host (HTTP/1.1, all tabs of a profile together): a tab serving over HTTP with the default
 * concurrency (16) once held 16 long-polls, so its replies, lease renewals and own requests
 * queued in the browser behind them and every request timed out. A service keeps one take
 * waiting per partition, and a take that brings a request wakes another loop to take at once
 * without waiting, so a burst is still taken in parallel, up to `concurrency`. Fake fetch and
 * fake timers.
 */
import { describe, expect, it, vi } from "vitest";
import { connect, type FetchLike, type HttpRequestInit } from "../../../client/index.js";
import { json, peerUnderFakeTimers, takeHeaders } from "./http-fakes.js";

const BASE = "http://relay.test";

/** A one-partition relay's take and reply routes, counting the takes that wait at once. */
class FakeRelay {
  readonly queued: string[] = [];
  readonly replied: string[] = [];
  /** Takes asked with `wait` > 0 and not yet answered, now and at most. */
  waiting = 0;
  mostWaiting = 0;
  #ids = 0;

  enqueue(count: number): string[] {
    const ids = Array.from({ length: count }, () => `r${++this.#ids}`);
    this.queued.push(...ids);
    return ids;
  }

  readonly fetch: FetchLike = async (url: string, init: HttpRequestInit) => {
    const path = url.slice(BASE.length);
    if (path === "/v1/whoami") {
      return json(200, { identity: "alice", roles: ["server"], limits: { leaseMs: 30_000 } });
    }
    const reply = path.match(/^\/v1\/queues\/jobs\/replies\/(r\d+)(\?partition=0)?$/);
    if (reply?.[1] !== undefined) this.replied.push(reply[1]);
    if (!path.includes("/take?")) return new Response(null, { status: 204 });
    const wait = Number(new URLSearchParams(path.split("?")[1]).get("wait"));
    if (wait > 0) this.#startWaiting();
    try {
      await this.#hold(Date.now() + wait, init);
    } finally {
      if (wait > 0) this.waiting--;
    }
    const id = this.queued.shift();
    if (id === undefined) return new Response(null, { status: 204, headers: PLACEMENT });
    return new Response("job", {
      status: 200,
      headers: takeHeaders(id, { ...PLACEMENT, "EdgeMQ-Lease-Ms": "30000" }),
    });
  };

  #startWaiting(): void {
    this.waiting++;
    this.mostWaiting = Math.max(this.mostWaiting, this.waiting);
  }

  /** Until `end`, unless a request is queued; throws when the call is aborted. */
  async #hold(end: number, init: HttpRequestInit): Promise<void> {
    while (Date.now() < end && this.queued.length === 0) {
      if (init.signal?.aborted) throw new Error("aborted");
      await new Promise((resolve) => setTimeout(resolve, Math.min(50, end - Date.now())));
    }
  }
}

const PLACEMENT = { "EdgeMQ-Partition": "0", "EdgeMQ-Partitions": "1" };

const held = peerUnderFakeTimers();

async function serving(relay: FakeRelay, handler: () => Promise<string>, concurrency?: number) {
  held.peer = await connect(BASE, { transport: "http", identity: "alice", fetch: relay.fetch });
  const options = concurrency === undefined ? undefined : { concurrency };
  return held.peer.serve("jobs", handler, options);
}

describe("an HTTP server's takes waiting at the relay", () => {
  it("is one while idle, whatever its concurrency (the default 16 here)", async () => {
    const relay = new FakeRelay();
    await serving(relay, async () => "done");
    await vi.advanceTimersByTimeAsync(120_000);
    expect(relay.mostWaiting).toBe(1);
  });

  it("stays one while it serves requests one at a time", async () => {
    const relay = new FakeRelay();
    await serving(relay, async () => "done", 8);
    await vi.advanceTimersByTimeAsync(1_000);
    for (let i = 0; i < 5; i++) {
      relay.enqueue(1);
      await vi.advanceTimersByTimeAsync(3_000);
    }
    expect(relay.replied).toHaveLength(5);
    expect(relay.mostWaiting).toBe(1);
  });
});

describe("an HTTP server meeting a burst", () => {
  it("takes it in parallel, up to its concurrency", async () => {
    const relay = new FakeRelay();
    let running = 0;
    let mostRunning = 0;
    const second = async () => {
      running++;
      mostRunning = Math.max(mostRunning, running);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      running--;
      return "done";
    };
    await serving(relay, second, 8);
    await vi.advanceTimersByTimeAsync(1_000);
    const ids = relay.enqueue(24);
    await vi.advanceTimersByTimeAsync(4_000);
    expect(relay.replied).toEqual(expect.arrayContaining(ids));
    expect(mostRunning).toBe(8);
  });
});
