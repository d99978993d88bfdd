/**
 * The SDK's HTTP server on a partitioned queue, against a fake fetch that plays the relay's take
 * route on fake timers (a take holds for its `wait` unless a request is queued on its partition):
 * a take refused because K was lowered makes the service re-learn K and carry on, a service of
 * concurrency below K still long-polls every partition (max(c, K) loops), and a service whose
 * loops are all busy in long handlers keeps its presence with presence calls.
 */
import { describe, expect, it, vi } from "vitest";
import { connect, type FetchLike, type HttpRequestInit, type Peer } from "../../../client/index.js";
import { json, peerUnderFakeTimers } from "./http-fakes.js";

const BASE = "http://relay.test";
/** The relay's HTTP server presence (docs/http-api.md). */
const PRESENCE_MS = 15_000;

interface Take {
  at: number;
  /** When its answer left (a waiting take keeps the server present); Infinity while it waits. */
  end: number;
  partition: number | undefined;
  wait: number;
}

/** A relay of `partitions` partitions as the HTTP take route sees it. */
class FakeTakeRoute {
  partitions: number;
  /** The lease each take hands out (a server renews every third of it). */
  leaseMs = 30_000;
  readonly takes: Take[] = [];
  /** Presence calls and lease renewals (each keeps the server present), as instants. */
  readonly presences: Take[] = [];
  readonly calls: string[] = [];
  /** The relay is out of reach (a restart): every call fails, waiting takes included. */
  down = false;
  /** How lease calls are answered: 204, or a 503 (which keeps no partition present). */
  leaseStatus = 204;
  /** Requests queued per partition (their ids). */
  readonly queued = new Map<number, string[]>();
  #ids = 0;

  constructor(partitions: number) {
    this.partitions = partitions;
  }

  enqueue(partition: number): string {
    const id = `r${++this.#ids}`;
    this.queued.set(partition, [...(this.queued.get(partition) ?? []), id]);
    return id;
  }

  /** A presence call or lease renewal: noted as an instant of presence, answered 204. */
  #instant(path: string): Response {
    const named = new URLSearchParams(path.split("?")[1] ?? "").get("partition");
    const partition = named === null || this.partitions <= 1 ? undefined : Number(named);
    this.presences.push({ at: Date.now(), end: Date.now(), partition, wait: 0 });
    return new Response(null, { status: 204 });
  }

  readonly fetch: FetchLike = async (url: string, init: HttpRequestInit) => {
    const path = url.slice(BASE.length);
    if (this.down) throw new TypeError("fetch failed");
    this.calls.push(`${init.method} ${path}`);
    if (path === "/v1/whoami") {
      return json(200, { identity: "alice", roles: ["server"], limits: { leaseMs: this.leaseMs } });
    }
    // The relay's routes: POST /v1/queues/{q}/presence[?partition=p] and .../leases/{id}[?partition=p].
    if (/^\/v1\/queues\/jobs\/(presence|leases\/r\d+)(\?partition=\d+)?$/.test(path)) {
      if (path.includes("/leases/") && this.leaseStatus !== 204) {
        return new Response(null, { status: this.leaseStatus });
      }
      return this.#instant(path);
    }
    if (!path.includes("/take?")) return new Response(null, { status: 204 });
    const query = new URLSearchParams(path.slice(path.indexOf("?") + 1));
    const named = query.get("partition");
    const partition = named === null ? undefined : Number(named);
    const wait = Number(query.get("wait"));
    const count = this.partitions;
    const take: Take = { at: Date.now(), end: Number.POSITIVE_INFINITY, partition, wait };
    this.takes.push(take);
    if (partition !== undefined && partition >= count) {
      take.end = take.at;
      return json(400, {
        error: {
          code: "bad_request",
          message: `partition must be 0 to ${count - 1} (this queue has ${count} partitions)`,
        },
      });
    }
    const from = partition ?? 0;
    await this.#hold(take, from, init);
    take.end = Date.now();
    const id = this.queued.get(from)?.shift();
    const placement = {
      "EdgeMQ-Partition": String(from),
      "EdgeMQ-Partitions": String(count),
    };
    if (id === undefined) return new Response(null, { status: 204, headers: placement });
    return new Response("job", {
      status: 200,
      headers: {
        "content-type": "text/plain; charset=utf-8",
        "EdgeMQ-Request-Id": id,
        "EdgeMQ-From": "bob",
        "EdgeMQ-Deadline": String(Date.now() + 60_000),
        "EdgeMQ-Attempt": "1",
        "EdgeMQ-Lease-Ms": String(this.leaseMs),
        ...placement,
      },
    });
  };

  /** Holds `take` for its wait, unless a request is queued on `from`; throws as its call fails. */
  async #hold(take: Take, from: number, init: HttpRequestInit): Promise<void> {
    const end = take.at + take.wait;
    while (Date.now() < end && (this.queued.get(from) ?? []).length === 0) {
      if (init.signal?.aborted || this.down) {
        take.end = Date.now();
        throw this.down ? new TypeError("fetch failed") : new Error("aborted");
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(100, end - Date.now())));
    }
  }

  /**
   * Longest stretch (ms) over [from, to] that partition `p` (undefined: the whole queue) had
   * neither a take waiting nor a take, lease renewal or presence call of this server.
   */
  longestGap(p: number | undefined, from: number, to: number): number {
    const takes = [...this.takes, ...this.presences]
      .filter((t) => t.partition === p && t.end >= from && t.at <= to)
      .sort((a, b) => a.at - b.at);
    let last = from;
    let gap = 0;
    for (const take of takes) {
      gap = Math.max(gap, take.at - last);
      last = Math.max(last, Math.min(take.end, to));
    }
    return Math.max(gap, to - last);
  }
}

const held = peerUnderFakeTimers();

async function serving(
  route: FakeTakeRoute,
  concurrency: number,
  handler: () => string | Promise<string> = () => "done",
): Promise<Peer> {
  held.peer = await connect(BASE, {
    transport: "http",
    identity: "alice",
    fetch: route.fetch,
    reconnect: { minDelayMs: 1, maxDelayMs: 5 },
  });
  held.peer.serve("jobs", handler, { concurrency });
  return held.peer;
}

describe("an HTTP server when K is lowered", () => {
  it("re-learns K after a take on a removed partition is refused, and keeps serving", async () => {
    const route = new FakeTakeRoute(4);
    await serving(route, 4);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(new Set(route.takes.map((t) => t.partition))).toEqual(new Set([undefined, 0, 1, 2, 3]));

    route.partitions = 2;
    const loweredAt = Date.now();
    await vi.advanceTimersByTimeAsync(60_000);
    const refused = route.takes.filter((t) => t.at >= loweredAt && (t.partition ?? 0) >= 2);
    expect(refused.length).toBeGreaterThan(0);
    const lastRefusal = Math.max(...refused.map((t) => t.at));
    const after = route.takes.filter((t) => t.at > lastRefusal + 2_000);
    expect(new Set(after.map((t) => t.partition))).toEqual(new Set([0, 1]));

    const id = route.enqueue(1);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(route.calls).toContain(`POST /v1/queues/jobs/replies/${id}?partition=1`);
  });

  it("still stops for good on a refusal that no K changes (forbidden)", async () => {
    const route = new FakeTakeRoute(4);
    const fetch = route.fetch;
    let forbid = false;
    const guarded: FetchLike = (url, init) =>
      forbid && url.includes("/take?")
        ? Promise.resolve(json(403, { error: { code: "forbidden", message: "not your queue" } }))
        : fetch(url, init);
    held.peer = await connect(BASE, { transport: "http", identity: "alice", fetch: guarded });
    held.peer.serve("jobs", () => "done", { concurrency: 2 });
    await vi.advanceTimersByTimeAsync(5_000);
    forbid = true;
    await vi.advanceTimersByTimeAsync(60_000);
    const count = route.calls.length;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(route.calls.length).toBe(count);
  });
});

describe("an HTTP server when K is raised across a relay restart", () => {
  it("polls the new partitions as soon as the relay is back, not after a long-poll of the old ones", async () => {
    const route = new FakeTakeRoute(2);
    await serving(route, 2);
    await vi.advanceTimersByTimeAsync(10_000);
    route.down = true;
    await vi.advanceTimersByTimeAsync(2_000);
    route.partitions = 4;
    route.down = false;
    const backAt = Date.now();
    await vi.advanceTimersByTimeAsync(3_000);
    const polled = route.takes.filter((t) => t.at >= backAt).map((t) => t.partition);
    // Before, the retried takes long-polled partitions 0 and 1 for 25 s before any answer told
    // K = 4: requests on partitions 2 and 3 found no server (no_responders) meanwhile.
    expect(polled).toEqual(expect.arrayContaining([2, 3]));
    const id = route.enqueue(3);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(route.calls).toContain(`POST /v1/queues/jobs/replies/${id}?partition=3`);
  });
});

describe("an HTTP server of concurrency below K", () => {
  it.each([1, 2, 3])(
    "long-polls every one of 4 partitions at all times, one loop each (concurrency %i)",
    async (concurrency) => {
      const route = new FakeTakeRoute(4);
      await serving(route, concurrency);
      await vi.advanceTimersByTimeAsync(2_000);
      const from = Date.now();
      await vi.advanceTimersByTimeAsync(120_000);
      for (const p of [0, 1, 2, 3]) {
        // Between two long-polls of a loop there is only the next take's own start.
        expect(route.longestGap(p, from, Date.now())).toBeLessThan(1_000);
      }
      const waits = route.takes.filter((t) => t.at >= from).map((t) => t.wait);
      expect(waits.every((w) => w === 25_000)).toBe(true);
    },
  );

  it("serves a request on any partition at once", async () => {
    const route = new FakeTakeRoute(4);
    await serving(route, 1);
    await vi.advanceTimersByTimeAsync(20_000);
    for (const p of [3, 2, 0, 3, 1]) {
      const id = route.enqueue(p);
      const reply = `POST /v1/queues/jobs/replies/${id}?partition=${p}`;
      const start = Date.now();
      while (!route.calls.includes(reply) && Date.now() - start < 60_000) {
        await vi.advanceTimersByTimeAsync(100);
      }
      expect(Date.now() - start).toBeLessThanOrEqual(500);
    }
  });

  it("drains a backlog on one partition without waiting on another's empty long-poll (K=2, c=1)", async () => {
    const route = new FakeTakeRoute(2);
    await serving(route, 1);
    await vi.advanceTimersByTimeAsync(5_000);
    const ids = Array.from({ length: 20 }, () => route.enqueue(0));
    const start = Date.now();
    const replied = () =>
      ids.every((id) => route.calls.includes(`POST /v1/queues/jobs/replies/${id}?partition=0`));
    while (!replied() && Date.now() - start < 60_000) await vi.advanceTimersByTimeAsync(100);
    // Before, one loop alternated between the partitions and served partition 0 once per
    // 5 s long-poll of the empty partition 1: 20 requests took ~100 s.
    expect(Date.now() - start).toBeLessThanOrEqual(5_000);
  });

  it("keeps the full long-poll when a loop owns a single partition", async () => {
    const route = new FakeTakeRoute(2);
    await serving(route, 2);
    await vi.advanceTimersByTimeAsync(60_000);
    const waits = route.takes.filter((t) => t.partition !== undefined).map((t) => t.wait);
    expect(waits.length).toBeGreaterThan(0);
    expect(waits.every((w) => w === 25_000)).toBe(true);
  });
});

describe("an HTTP server whose loops are all busy in long handlers", () => {
  const minute = () => new Promise<string>((resolve) => setTimeout(() => resolve("done"), 60_000));

  it.each([1, 2])(
    "keeps all 4 partitions present with presence calls (concurrency %i)",
    async (concurrency) => {
      const route = new FakeTakeRoute(4);
      // Lease calls (every CANCEL_CHECK_MS while a handler runs) that fail keep no partition
      // present: only presence calls can.
      route.leaseStatus = 503;
      await serving(route, concurrency, minute);
      await vi.advanceTimersByTimeAsync(12_000);
      // One request per partition: every one of the max(c, 4) = 4 loops is busy in a handler.
      for (const p of [0, 1, 2, 3]) route.enqueue(p);
      await vi.advanceTimersByTimeAsync(1_000);
      const from = Date.now();
      await vi.advanceTimersByTimeAsync(50_000);
      for (const p of [0, 1, 2, 3]) {
        expect(route.longestGap(p, from, Date.now())).toBeLessThan(PRESENCE_MS - 2_000);
        expect(route.calls).toContain(`POST /v1/queues/jobs/presence?partition=${p}`);
      }
    },
  );

  it("keeps an unpartitioned queue present when its lease calls keep failing", async () => {
    const route = new FakeTakeRoute(1);
    route.leaseStatus = 503;
    await serving(route, 1, minute);
    await vi.advanceTimersByTimeAsync(1_000);
    route.enqueue(0);
    await vi.advanceTimersByTimeAsync(1_000);
    const from = Date.now();
    await vi.advanceTimersByTimeAsync(55_000);
    expect(route.longestGap(undefined, from, Date.now())).toBeLessThan(PRESENCE_MS - 2_000);
  });

  it("sends no presence call while its takes keep every partition polled", async () => {
    const route = new FakeTakeRoute(4);
    await serving(route, 2);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(route.presences).toEqual([]);
  });
});

describe("an HTTP server's ready on a partitioned queue", () => {
  it("waits until the relay counts it on every partition when its first takes all brought requests", async () => {
    // Found by a probe: a backlog on partition 0 made the first takes answer 200 from there, so
    // ready resolved before any take or call reached the other partitions, and a failFast request
    // of a client of another partition, sent right after ready, got no_responders.
    const route = new FakeTakeRoute(4);
    for (let i = 0; i < 8; i++) route.enqueue(0);
    held.peer = await connect(BASE, { transport: "http", identity: "alice", fetch: route.fetch });
    const slow = () => new Promise<string>((resolve) => setTimeout(() => resolve("done"), 5_000));
    const service = held.peer.serve("jobs", slow, { concurrency: 4 });
    let readyAt: number | undefined;
    void service.ready.then(
      () => {
        readyAt = Date.now();
      },
      () => {},
    );
    await vi.advanceTimersByTimeAsync(1_000);
    expect(readyAt).toBeDefined();
    const wholeQueue = route.presences.filter((p) => p.partition === undefined);
    expect(wholeQueue.length).toBeGreaterThan(0);
    expect(Math.min(...wholeQueue.map((p) => p.end))).toBeLessThanOrEqual(readyAt ?? 0);
  });

  it("is ready without a presence call when a first take swept every partition and found none", async () => {
    const route = new FakeTakeRoute(4);
    held.peer = await connect(BASE, { transport: "http", identity: "alice", fetch: route.fetch });
    const service = held.peer.serve("jobs", () => "done", { concurrency: 4 });
    await service.ready;
    expect(route.presences).toEqual([]);
  });
});
