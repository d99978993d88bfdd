/**
 * The HTTP server's lease renewals end with the handler: a renewal whose answer comes after the
 * handler returned neither re-arms (so no lease call follows the reply, nor service.close() and
 * peer.close(), even while the relay is unreachable) nor aborts the finished handler's signal; and
 * renewals stop at the request's deadline. The leases of a service's running handlers go in one
 * call per round (one call each on a relay without that route). A handler that ignores its
 * signal and never returns holds its take loop only until its request is over (deadline passed,
 * lease refused), and leaves no timer once it is. Against a fake fetch on fake timers.
 */
import { describe, expect, it, vi } from "vitest";
import { RELAY_ENDED_MESSAGE } from "../../../client/handler-signal.js";
import { CANCEL_CHECK_MS } from "../../../client/http-service.js";
import { connect, type FetchLike, type Handler, type Service } from "../../../client/index.js";
import { peerUnderFakeTimers } from "./http-fakes.js";

const BASE = "http://relay.test";
/** renewEvery(LEASE_MS) is 200 ms. */
const LEASE_MS = 600;

/** How the fake relay answers a lease call (after `delayMs`); throwing is a network error. */
type LeaseAnswer = () => Response;

class FakeRelay {
  /** Every call as `<ms> <METHOD> <path>`, in order. */
  readonly calls: { at: number; method: string; path: string }[] = [];
  leaseDelayMs = 250;
  leaseAnswer: LeaseAnswer = () => new Response(null, { status: 204 });
  deadlineMs = 60_000;
  /** The deadline (epoch ms) of the latest request handed out. */
  deadline = 0;
  /** The ids of each batch lease call, in order. */
  readonly batches: string[][] = [];
  readonly #queued: string[];

  constructor(queued = ["r1"]) {
    this.#queued = [...queued];
  }

  /** False: answer the batch route 404, as a relay from before it (one call per lease then). */
  batchRoute = true;
  /** A refusal of the whole batch call (its status), instead of each id's answer. */
  batchRefusal: number | undefined;
  /** The relay never answers a server's leave (DELETE .../takes). */
  leaveHangs = false;

  leaseCalls(after = Number.NEGATIVE_INFINITY): number {
    return this.calls.filter((c) => c.path.includes("/leases") && c.at > after).length;
  }

  replyAt(): number | undefined {
    return this.calls.find((c) => c.path.includes("/replies/"))?.at;
  }

  readonly fetch: FetchLike = async (url, init) => {
    const path = url.slice(BASE.length);
    this.calls.push({ at: Date.now(), method: init.method, path });
    if (path === "/v1/whoami") {
      return Response.json({ identity: "alice", roles: ["server"], limits: { leaseMs: LEASE_MS } });
    }
    if (path.includes("/leases/")) {
      await sleep(this.leaseDelayMs);
      return this.leaseAnswer();
    }
    if (path.endsWith("/leases")) return this.#leases(init.body);
    if (path.endsWith("/takes") && this.leaveHangs) return hangUntilAborted(init.signal);
    if (path.includes("/take?")) return this.#take(path, init.signal);
    return new Response(null, { status: 204 });
  };

  /** The batch route: each id answered as `leaseAnswer` answers the one-id route. */
  async #leases(body: unknown): Promise<Response> {
    if (!this.batchRoute) {
      const error = { code: "not_found", message: "no route for POST /v1/queues/jobs/leases" };
      return Response.json({ error }, { status: 404 });
    }
    await sleep(this.leaseDelayMs);
    if (this.batchRefusal !== undefined) {
      const error = { code: "unauthorized", message: "token expired" };
      return Response.json({ error }, { status: this.batchRefusal });
    }
    const ids: unknown = JSON.parse(String(body)).ids;
    if (!Array.isArray(ids)) return new Response(null, { status: 400 });
    this.batches.push(ids.map(String));
    const leases = [];
    for (const id of ids) {
      const one = this.leaseAnswer();
      const leaseMs = Number(one.headers.get("EdgeMQ-Lease-Ms") ?? LEASE_MS);
      leases.push({ id, status: one.status, leaseMs });
    }
    return Response.json({ leases });
  }

  async #take(path: string, signal: { readonly aborted: boolean } | undefined): Promise<Response> {
    const id = this.#queued.shift();
    if (id !== undefined) {
      this.deadline = Date.now() + this.deadlineMs;
      return new Response("job", {
        status: 200,
        headers: {
          "content-type": "text/plain; charset=utf-8",
          "EdgeMQ-Request-Id": id,
          "EdgeMQ-From": "bob",
          "EdgeMQ-Deadline": String(this.deadline),
          "EdgeMQ-Attempt": "1",
          // As the relay: the lease never runs past the deadline.
          "EdgeMQ-Lease-Ms": String(Math.min(LEASE_MS, this.deadline - Date.now())),
        },
      });
    }
    const wait = Number(new URLSearchParams(path.slice(path.indexOf("?") + 1)).get("wait"));
    const end = Date.now() + wait;
    while (Date.now() < end) {
      if (signal?.aborted) throw new Error("aborted");
      await sleep(Math.min(100, end - Date.now()));
    }
    return new Response(null, { status: 204 });
  }
}

/** A call the relay never answers: it ends only when its caller aborts it, as fetch does. */
function hangUntilAborted(signal: { readonly aborted: boolean } | undefined): Promise<Response> {
  return new Promise((_resolve, reject) => {
    const check = () => (signal?.aborted ? reject(new Error("aborted")) : setTimeout(check, 10));
    check();
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const held = peerUnderFakeTimers();

async function serving(relay: FakeRelay, handler: Handler, concurrency = 1): Promise<Service> {
  held.peer = await connect(BASE, {
    transport: "http",
    identity: "alice",
    fetch: relay.fetch,
    reconnect: { minDelayMs: 1, maxDelayMs: 5 },
  });
  return held.peer.serve("jobs", handler, { concurrency });
}

/** A handler that takes 300 ms: a renewal (every 200 ms, answered in 250 ms) is then in flight. */
const slowHandler = (signals: AbortSignal[]): Handler => {
  return async (request) => {
    signals.push(request.signal);
    await sleep(300);
    return "done";
  };
};

describe("an HTTP server's lease renewals", () => {
  it("make no lease call after the handler's reply, when a renewal was in flight as it returned", async () => {
    const relay = new FakeRelay();
    await serving(relay, slowHandler([]));
    await vi.advanceTimersByTimeAsync(5_000);
    const replyAt = relay.replyAt();
    expect(replyAt).toBeDefined();
    expect(relay.leaseCalls()).toBeGreaterThan(0);
    expect(relay.leaseCalls(replyAt)).toBe(0);
  });

  it("make no lease call for a lease that already runs to the request's deadline, for a handler done within CANCEL_CHECK_MS", async () => {
    const relay = new FakeRelay();
    relay.deadlineMs = 500; // the take's lease: 500 ms, to the deadline (leaseMs is 600)
    await serving(relay, slowHandler([]));
    await vi.advanceTimersByTimeAsync(5_000);
    expect(relay.replyAt()).toBeDefined();
    expect(relay.leaseCalls()).toBe(0);
  });

  it("stop renewing once a renewal says the lease runs to the deadline (only the cancel check, every CANCEL_CHECK_MS, goes on)", async () => {
    const relay = new FakeRelay();
    relay.deadlineMs = 700; // over leaseMs at the take; the first renewal reaches the deadline
    relay.leaseDelayMs = 0;
    relay.leaseAnswer = () =>
      new Response(null, {
        status: 204,
        headers: { "EdgeMQ-Lease-Ms": String(Math.max(1, relay.deadline - Date.now())) },
      });
    const signals: AbortSignal[] = [];
    await serving(relay, async (request) => {
      signals.push(request.signal);
      await sleep(650);
      return "done";
    });
    await vi.advanceTimersByTimeAsync(5_000);
    expect(relay.replyAt()).toBeDefined();
    expect(relay.leaseCalls()).toBe(1);
  });

  it("make no lease call after close() while the relay is unreachable", async () => {
    const relay = new FakeRelay();
    relay.leaseAnswer = () => {
      throw new TypeError("fetch failed");
    };
    const service = await serving(relay, slowHandler([]));
    await vi.advanceTimersByTimeAsync(1_000);
    const closing = Promise.all([service.close(), held.peer?.close()]);
    await vi.advanceTimersByTimeAsync(30_000);
    await closing;
    held.peer = undefined;
    const closedAt = Date.now();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(relay.leaseCalls(closedAt)).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("close() waits at most 2 s for the relay to hear that the service left", async () => {
    const relay = new FakeRelay([]);
    relay.leaveHangs = true;
    const service = await serving(relay, slowHandler([]));
    await vi.advanceTimersByTimeAsync(100);
    let closed = false;
    const closing = service.close().then(() => {
      closed = true;
    });
    await vi.advanceTimersByTimeAsync(1_900);
    expect(closed).toBe(false);
    await vi.advanceTimersByTimeAsync(200);
    expect(closed).toBe(true);
    await closing;
  });

  it("leave the handler's signal alone when a lease is lost after the handler returned", async () => {
    const relay = new FakeRelay();
    relay.leaseAnswer = () =>
      Response.json({ error: { code: "not_found", message: "no such lease" } }, { status: 404 });
    const signals: AbortSignal[] = [];
    await serving(relay, slowHandler(signals));
    await vi.advanceTimersByTimeAsync(5_000);
    expect(relay.replyAt()).toBeDefined();
    expect(signals).toHaveLength(1);
    expect(signals[0]?.aborted).toBe(false);
  });

  it("abort a long handler's signal within CANCEL_CHECK_MS of its request's cancel, though its lease runs to the deadline", async () => {
    const relay = new FakeRelay();
    relay.leaseDelayMs = 0;
    relay.deadlineMs = 30_000;
    const cancelledAt = 5_000;
    const start = Date.now();
    relay.leaseAnswer = () =>
      Date.now() - start < cancelledAt
        ? new Response(null, {
            status: 204,
            headers: { "EdgeMQ-Lease-Ms": String(Math.max(1, relay.deadline - Date.now())) },
          })
        : Response.json({ error: { code: "conflict", message: "ended" } }, { status: 409 });
    const signals: AbortSignal[] = [];
    let abortedAt: number | undefined;
    await serving(relay, async (request) => {
      signals.push(request.signal);
      request.signal.addEventListener("abort", () => {
        abortedAt = Date.now() - start;
      });
      await sleep(20_000);
      return "late";
    });
    await vi.advanceTimersByTimeAsync(12_000);
    expect(signals[0]?.aborted).toBe(true);
    // The same reason a WebSocket service's handler gets (service.test.ts).
    expect(signals[0]?.reason).toMatchObject({ code: "cancelled", message: RELAY_ENDED_MESSAGE });
    expect(abortedAt).toBeGreaterThanOrEqual(cancelledAt);
    expect(abortedAt).toBeLessThanOrEqual(cancelledAt + CANCEL_CHECK_MS + 100);
  });

  it("renew the leases of all running handlers in one call per round, not one call each", async () => {
    const relay = new FakeRelay(["r1", "r2", "r3"]);
    relay.leaseDelayMs = 0;
    await serving(
      relay,
      async () => {
        await sleep(1_000);
        return "done";
      },
      3,
    );
    await vi.advanceTimersByTimeAsync(5_000);
    expect(relay.calls.filter((c) => c.path.includes("/replies/"))).toHaveLength(3);
    // Every 200 ms for a second: about five rounds, each naming all three handlers.
    expect(relay.batches.length).toBeGreaterThanOrEqual(3);
    expect(relay.batches.length).toBeLessThanOrEqual(6);
    for (const ids of relay.batches) expect([...ids].sort()).toEqual(["r1", "r2", "r3"]);
    expect(relay.calls.filter((c) => c.path.includes("/leases/"))).toHaveLength(0);
  });

  it("make one call per lease on a relay without the batch route, and still hear a cancel", async () => {
    const relay = new FakeRelay();
    relay.batchRoute = false;
    relay.leaseDelayMs = 0;
    const start = Date.now();
    relay.leaseAnswer = () =>
      Date.now() - start < 1_000
        ? new Response(null, { status: 204, headers: { "EdgeMQ-Lease-Ms": String(LEASE_MS) } })
        : Response.json({ error: { code: "conflict", message: "ended" } }, { status: 409 });
    const signals: AbortSignal[] = [];
    await serving(relay, async (request) => {
      signals.push(request.signal);
      await sleep(5_000);
      return "late";
    });
    await vi.advanceTimersByTimeAsync(3_000);
    const batchCalls = relay.calls.filter((c) => c.path.endsWith("/leases"));
    expect(batchCalls).toHaveLength(1);
    expect(relay.calls.filter((c) => c.path.includes("/leases/r1")).length).toBeGreaterThan(1);
    expect(signals[0]?.aborted).toBe(true);
  });

  it("abort the handlers of a lease call refused as a whole (401), as a refusal of each id would", async () => {
    const relay = new FakeRelay();
    relay.leaseDelayMs = 0;
    relay.batchRefusal = 401;
    const signals: AbortSignal[] = [];
    await serving(relay, async (request) => {
      signals.push(request.signal);
      await sleep(5_000);
      return "late";
    });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(signals[0]?.aborted).toBe(true);
    expect(relay.replyAt()).toBeUndefined();
  });

  it("stop at the request's deadline while the handler runs on", async () => {
    const relay = new FakeRelay();
    relay.leaseDelayMs = 0;
    relay.deadlineMs = 2_000;
    await serving(relay, async () => {
      await sleep(20_000); // ignores its signal
      return "late";
    });
    await vi.advanceTimersByTimeAsync(15_000);
    expect(relay.leaseCalls()).toBeGreaterThan(0);
    expect(relay.leaseCalls(relay.deadline)).toBe(0);
  });
});

describe("an HTTP server's slot of a handler that ignores req.signal", () => {
  /** A handler that never returns for "r1" (ignores its signal), and answers the others. */
  const stuckOnFirst = (seen: string[]): Handler => {
    return (request) => {
      seen.push(request.id);
      return request.id === "r1" ? new Promise<string>(() => {}) : "done";
    };
  };

  it("is freed at the request's deadline: a concurrency-1 service takes the next request", async () => {
    const relay = new FakeRelay(["r1", "r2"]);
    relay.leaseDelayMs = 0;
    relay.deadlineMs = 2_000;
    const seen: string[] = [];
    await serving(relay, stuckOnFirst(seen));
    await vi.advanceTimersByTimeAsync(5_000);
    expect(seen).toEqual(["r1", "r2"]);
    expect(relay.calls.some((c) => c.path.includes("/replies/r2"))).toBe(true);
  });

  it("is freed once the relay says the lease is gone (cancelled): the service takes the next request", async () => {
    const relay = new FakeRelay(["r1", "r2"]);
    relay.leaseDelayMs = 0;
    relay.leaseAnswer = () => Response.json({ error: { code: "conflict" } }, { status: 409 });
    const seen: string[] = [];
    await serving(relay, stuckOnFirst(seen));
    await vi.advanceTimersByTimeAsync(5_000);
    expect(seen).toEqual(["r1", "r2"]);
  });

  // A lifecycle probe: a handler that never returns left its lease's renewal timer running after
  // close(), which kept a Node process alive after peer.close() resolved.
  it("leaves no lease timer after close(), though the handler still runs", async () => {
    const relay = new FakeRelay(["r1"]);
    relay.leaseDelayMs = 0;
    relay.deadlineMs = 60_000;
    const seen: string[] = [];
    const service = await serving(relay, stuckOnFirst(seen));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(seen).toEqual(["r1"]);
    // The client cancels r1: the relay refuses its lease, so its request is over.
    relay.leaseAnswer = () => Response.json({ error: { code: "conflict" } }, { status: 409 });
    await vi.advanceTimersByTimeAsync(CANCEL_CHECK_MS + 500);
    const closing = Promise.all([service.close(), held.peer?.close()]);
    await vi.advanceTimersByTimeAsync(3_000);
    await closing;
    const closedAt = Date.now();
    held.peer = undefined;
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(relay.leaseCalls(closedAt)).toBe(0);
  });

  // A lifecycle probe: over WebSocket such a handler still counted in inHand, over HTTP not.
  it("still counts in inHand while it runs, as over WebSocket", async () => {
    const relay = new FakeRelay(["r1"]);
    relay.leaseDelayMs = 0;
    let finish = (_value: string) => {};
    const service = await serving(
      relay,
      () => new Promise<string>((resolve) => (finish = resolve)),
    );
    await vi.advanceTimersByTimeAsync(500);
    expect(service.inHand).toBe(1);
    relay.leaseAnswer = () => Response.json({ error: { code: "conflict" } }, { status: 409 });
    await vi.advanceTimersByTimeAsync(CANCEL_CHECK_MS + 500);
    expect(service.inHand).toBe(1);
    finish("late");
    await vi.advanceTimersByTimeAsync(10);
    expect(service.inHand).toBe(0);
  });

  it("leaves no lease timer after a close() that waited for the request's deadline", async () => {
    const relay = new FakeRelay(["r1"]);
    relay.leaseDelayMs = 0;
    relay.deadlineMs = 3_000;
    const service = await serving(relay, stuckOnFirst([]));
    await vi.advanceTimersByTimeAsync(500);
    const closing = Promise.all([service.close(), held.peer?.close()]);
    await vi.advanceTimersByTimeAsync(3_000);
    await closing;
    held.peer = undefined;
    expect(vi.getTimerCount()).toBe(0);
  });
});
