/**
 * The lease an HTTP server asks for (`?lease=ms` of take and of the lease routes) in workerd: the
 * queue object leases the request for that long, brought within 1,000 ms and the relay's leaseMs
 * (30 s here), and the answer's EdgeMQ-Lease-Ms tells the lease granted; a durable queue, a memory
 * queue (`mem-*`), a partitioned one (`part-*`, 2 partitions) and a take that waited alike. Without
 * it the lease is leaseMs, as before. A value that is not an integer is refused `400 bad_request`
 * naming the parameter and its range, and takes nothing. `GET /v1/whoami` lists "lease".
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ridOf } from "../../durable-objects/queue/dispatch-id.js";
import type { QueueState } from "../../durable-objects/queue/queue-state.js";
import { queueObjectName } from "../../durable-objects/shared/queue-partitions.js";
import { LEASE_FEATURE } from "../../protocol/index.js";
import { expectError, field, http } from "./http-test-peer.js";

const LEASE_MS = 30_000;

async function post(queue: string, identity: string): Promise<void> {
  const response = await http(`/v1/queues/${queue}/requests?async=true&timeout=120000`, {
    identity,
    contentType: "text/plain",
    body: "job",
  });
  expect(response.status).toBe(202);
  await response.arrayBuffer();
}

/** A take of `queue` with `query`; the id, partition and EdgeMQ-Lease-Ms of what it got. */
async function take(queue: string, identity: string, query: string) {
  const before = Date.now();
  const taken = await http(`/v1/queues/${queue}/take?wait=5000${query}`, { identity });
  expect(taken.status).toBe(200);
  await taken.arrayBuffer();
  const id = taken.headers.get("EdgeMQ-Request-Id") ?? "";
  const partition = Number(taken.headers.get("EdgeMQ-Partition"));
  const leaseMs = Number(taken.headers.get("EdgeMQ-Lease-Ms"));
  return { id, partition, leaseMs, before, after: Date.now() };
}

/** The stored lease end of request `id` on `queue`'s partition `partition`. */
function leaseEnd(queue: string, partition: number, id: string): Promise<number | null> {
  const rid = ridOf(id.replace(/^p[0-9]+\./, ""));
  const stub = env.QUEUE.getByName(queueObjectName(queue, partition));
  return runInDurableObject(stub, (instance) => {
    const { store } = (instance as unknown as { state: QueueState }).state;
    return rid === undefined ? null : (store.get(rid)?.leaseUntil ?? null);
  });
}

/** How many takes wait on `queue`. */
function waitingTakes(queue: string): Promise<number> {
  return runInDurableObject(env.QUEUE.getByName(queue), (instance) => {
    return (instance as unknown as { state: QueueState }).state.takers.waitingCount;
  });
}

/** Asserts a lease of `granted` ms from a moment within [before, after]: stored and answered. */
async function expectLease(
  queue: string,
  got: { id: string; partition: number; leaseMs: number; before: number; after: number },
  granted: number,
) {
  const end = await leaseEnd(queue, got.partition, got.id);
  expect(end).toBeGreaterThanOrEqual(got.before + granted);
  expect(end).toBeLessThanOrEqual(got.after + granted);
  expect(got.leaseMs).toBeGreaterThan(0);
  expect(got.leaseMs).toBeLessThanOrEqual(granted);
}

describe("a take asking for a lease", () => {
  it("leases for the lease asked, within 1,000 ms and leaseMs, on a durable queue", async () => {
    for (const [asked, granted] of [
      ["5000", 5_000],
      ["10", 1_000],
      ["0", 1_000],
      ["999999999", LEASE_MS],
    ] as const) {
      await post("la-q", "la-client");
      await expectLease("la-q", await take("la-q", "la-worker", `&lease=${asked}`), granted);
    }
    await post("la-q", "la-client");
    await expectLease("la-q", await take("la-q", "la-worker", ""), LEASE_MS);
  });

  it("leases for the lease asked on a memory queue and on a partitioned queue", async () => {
    await post("mem-la", "la-client");
    await expectLease("mem-la", await take("mem-la", "la-worker", "&lease=2000"), 2_000);
    await post("part-la", "la-client");
    await expectLease("part-la", await take("part-la", "la-worker", "&lease=2000"), 2_000);
  });

  it("leases for the lease asked to a take that waited for the request", async () => {
    const waiting = take("la-wait", "la-worker", "&lease=3000");
    while ((await waitingTakes("la-wait")) === 0) await new Promise((r) => setTimeout(r, 10));
    await post("la-wait", "la-client");
    await expectLease("la-wait", await waiting, 3_000);
  });

  it("refuses a lease that is not an integer with 400 naming it and its range, taking nothing", async () => {
    await post("la-bad", "la-client");
    for (const asked of ["", "abc", "-1", "1.5", "1e4", "+5000", "0x10"]) {
      const refused = await http(`/v1/queues/la-bad/take?lease=${encodeURIComponent(asked)}`, {
        identity: "la-worker",
      });
      expect(refused.status).toBe(400);
      const error = field(await refused.json(), "error");
      expect(field(error, "code")).toBe("bad_request");
      expect(field(error, "message")).toContain("lease");
      expect(field(error, "message")).toContain(`1000 to ${LEASE_MS}`);
    }
    const taken = await http("/v1/queues/la-bad/take", { identity: "la-worker" });
    expect(taken.headers.get("EdgeMQ-Attempt")).toBe("1");
    await taken.arrayBuffer();
  });
});

describe("a lease call asking for a lease", () => {
  it("extends one lease for the lease asked, and refuses a malformed one", async () => {
    await post("la-ext", "la-client");
    const got = await take("la-ext", "la-worker", "&lease=2000");
    const before = Date.now();
    const extended = await http(`/v1/queues/la-ext/leases/${got.id}?lease=7000`, {
      identity: "la-worker",
    });
    expect(extended.status).toBe(204);
    const leaseMs = Number(extended.headers.get("EdgeMQ-Lease-Ms"));
    await expectLease("la-ext", { ...got, leaseMs, before, after: Date.now() }, 7_000);
    const bad = await http(`/v1/queues/la-ext/leases/${got.id}?lease=7s`, {
      identity: "la-worker",
    });
    await expectError(bad, 400, "bad_request");
  });

  it("extends several leases for the lease asked, and refuses a malformed one", async () => {
    await post("part-lm", "la-client-a");
    await post("part-lm", "la-client-b");
    const a = await take("part-lm", "la-worker", "&lease=2000");
    const b = await take("part-lm", "la-worker", "&lease=2000");
    const body = JSON.stringify({ ids: [a.id, b.id] });
    const call = { identity: "la-worker", contentType: "application/json", body };
    const before = Date.now();
    const extended = await http("/v1/queues/part-lm/leases?lease=4000", call);
    expect(extended.status).toBe(200);
    const entries = field(await extended.json(), "leases") as { status: number; leaseMs: number }[];
    const after = Date.now();
    expect(entries.map((e) => e.status)).toEqual([204, 204]);
    for (const [i, got] of [a, b].entries()) {
      const leaseMs = entries[i]?.leaseMs ?? 0;
      await expectLease("part-lm", { ...got, leaseMs, before, after }, 4_000);
    }
    await expectError(
      await http("/v1/queues/part-lm/leases?lease=-4000", call),
      400,
      "bad_request",
    );
  });

  it("without a lease asked extends by leaseMs, as before", async () => {
    await post("la-plain", "la-client");
    const got = await take("la-plain", "la-worker", "&lease=2000");
    const before = Date.now();
    const extended = await http(`/v1/queues/la-plain/leases/${got.id}`, { identity: "la-worker" });
    expect(extended.status).toBe(204);
    const leaseMs = Number(extended.headers.get("EdgeMQ-Lease-Ms"));
    await expectLease("la-plain", { ...got, leaseMs, before, after: Date.now() }, LEASE_MS);
  });
});

describe("GET /v1/whoami", () => {
  it("lists the lease feature", async () => {
    const answer = await http("/v1/whoami", { method: "GET", identity: "la-someone" });
    expect(field(await answer.json(), "features")).toContain(LEASE_FEATURE);
  });
});
