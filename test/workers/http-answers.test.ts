/**
 * The HTTP API's failures, leases, client-chosen ids, cancel and whoami in workerd: a failure
 * reaches the client as server_error with its message (at most 16 KiB read, its first 4,096
 * characters kept), a lease extension follows the reply rules and moves the lease's end, a POST
 * repeated with the same EdgeMQ-Request-Id runs once, DELETE cancels a request, and /v1/whoami
 * names the caller, its roles, the protocol and the limits in force.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_LIMITS,
  LEASE_FEATURE,
  OUTCOMES_FEATURE,
  PROTOCOL_VERSION,
} from "../../protocol/index.js";
import { call, mint, signedEnv } from "../security/signed-relay.js";
import { expectError, field, http, sleep } from "./http-test-peer.js";

function take(queue: string, identity: string, wait = 0): Promise<Response> {
  return http(`/v1/queues/${queue}/take?wait=${wait}`, { identity });
}

/** A timeout well past the 30 s lease, so the deadline does not cut leases short. */
const LONG_TIMEOUT = 120_000;
/** The header counts from when the front door answers: the calls before it may have taken this. */
const LEASE_SLACK_MS = 5_000;

/** A take's or lease call's EdgeMQ-Lease-Ms, as a number. */
function leaseHeader(response: Response): number {
  return Number(response.headers.get("EdgeMQ-Lease-Ms"));
}

function post(
  queue: string,
  identity: string,
  id: string,
  body = "1",
  timeout?: number,
): Promise<Response> {
  const query = timeout === undefined ? "" : `&timeout=${timeout}`;
  return http(`/v1/queues/${queue}/requests?async=true${query}`, {
    identity,
    contentType: "application/json",
    body,
    headers: { "EdgeMQ-Request-Id": id },
  });
}

function outcome(id: string, identity: string, wait = 5_000): Promise<Response> {
  return http(`/v1/requests/${id}?wait=${wait}`, { method: "GET", identity });
}

/** The end of the lease on relay id `id` of queue `queue`, as its row holds it. */
function leaseUntil(queue: string, id: string): Promise<number> {
  return runInDurableObject(env.QUEUE.getByName(queue), (_instance, state) => {
    const row = state.storage.sql
      .exec("SELECT lease_until FROM requests WHERE rid = ?", Number(id))
      .one();
    return Number(row.lease_until);
  });
}

async function takenId(queue: string, identity: string): Promise<string> {
  const taken = await take(queue, identity, 5_000);
  expect(taken.status).toBe(200);
  await taken.arrayBuffer();
  return taken.headers.get("EdgeMQ-Request-Id") ?? "";
}

describe("HTTP answers beyond replies", () => {
  it("a failure posted by the lessee reaches the client as server_error with its message", async () => {
    expect((await post("ha-fail", "ha-client-1", "job-1")).status).toBe(202);
    const id = await takenId("ha-fail", "ha-worker-1");
    const failed = await http(`/v1/queues/ha-fail/failures/${id}`, {
      identity: "ha-worker-1",
      contentType: "text/plain",
      body: "disk full",
    });
    expect(failed.status).toBe(204);
    const answer = await outcome("job-1", "ha-client-1");
    expect(answer.status).toBe(502);
    expect(await answer.json()).toEqual({ error: { code: "server_error", message: "disk full" } });
  });

  it("refuses a failure body over 16 KiB with 413 too_large, and the request stays leased", async () => {
    expect((await post("ha-fail-big", "ha-client-7", "job-7")).status).toBe(202);
    const id = await takenId("ha-fail-big", "ha-worker-7");
    const refused = await http(`/v1/queues/ha-fail-big/failures/${id}`, {
      identity: "ha-worker-7",
      contentType: "text/plain",
      body: "x".repeat(16 * 1024 + 1),
    });
    await expectError(refused, 413, "too_large");
    // Still this server's: its reply counts.
    const replied = await http(`/v1/queues/ha-fail-big/replies/${id}`, {
      identity: "ha-worker-7",
      contentType: "text/plain",
      body: "done after all",
    });
    expect(replied.status).toBe(204);
    expect(await (await outcome("job-7", "ha-client-7")).text()).toBe("done after all");
  });

  it("takes a failure body of 16 KiB and gives the client its first 4,096 characters", async () => {
    expect((await post("ha-fail-long", "ha-client-8", "job-8")).status).toBe(202);
    const id = await takenId("ha-fail-long", "ha-worker-8");
    const kept = "k".repeat(4_096);
    const failed = await http(`/v1/queues/ha-fail-long/failures/${id}`, {
      identity: "ha-worker-8",
      contentType: "text/plain",
      body: kept + "d".repeat(16 * 1024 - kept.length),
    });
    expect(failed.status).toBe(204);
    const answer = await outcome("job-8", "ha-client-8");
    expect(answer.status).toBe(502);
    expect(await answer.json()).toEqual({ error: { code: "server_error", message: kept } });
  });

  it("a reply to the client's own id, not the take's relay id, is refused 404 saying which id to use", async () => {
    expect((await post("ha-rules", "ha-client-4", "job-4")).status).toBe(202);
    const id = await takenId("ha-rules", "ha-worker-4");
    const mistaken = await http("/v1/queues/ha-rules/replies/job-4", {
      identity: "ha-worker-4",
      body: "ok",
      contentType: "text/plain",
    });
    const { error } = (await mistaken.clone().json()) as { error: { message: string } };
    await expectError(mistaken, 404, "not_found");
    expect(error.message).toContain("the relay id the take gave in EdgeMQ-Request-Id");
    const replied = await http(`/v1/queues/ha-rules/replies/${id}`, {
      identity: "ha-worker-4",
      body: "ok",
      contentType: "text/plain",
    });
    expect(replied.status).toBe(204);
  });

  it("a failure or lease from another server is refused 404, and after the answer 409", async () => {
    expect((await post("ha-rules", "ha-client-2", "job-2")).status).toBe(202);
    const id = await takenId("ha-rules", "ha-worker-2");
    const stranger = { identity: "ha-worker-3", body: "x" };
    await expectError(await http(`/v1/queues/ha-rules/failures/${id}`, stranger), 404, "not_found");
    await expectError(
      await http(`/v1/queues/ha-rules/leases/${id}`, { identity: "ha-worker-3" }),
      404,
      "not_found",
    );
    const extended = await http(`/v1/queues/ha-rules/leases/${id}`, { identity: "ha-worker-2" });
    expect(extended.status).toBe(204);
    expect(Number(extended.headers.get("EdgeMQ-Lease-Ms"))).toBeGreaterThan(0);
    const replied = await http(`/v1/queues/ha-rules/replies/${id}`, {
      identity: "ha-worker-2",
      body: "ok",
      contentType: "text/plain",
    });
    expect(replied.status).toBe(204);
    await expectError(
      await http(`/v1/queues/ha-rules/leases/${id}`, { identity: "ha-worker-2" }),
      409,
      "conflict",
    );
    await expectError(
      await http(`/v1/queues/ha-rules/failures/${id}`, { identity: "ha-worker-2", body: "late" }),
      409,
      "conflict",
    );
  });

  it("a take names the lease length in EdgeMQ-Lease-Ms: leaseMs, the lease it got", async () => {
    // The test relay sets no EDGEMQ_LEASE_MS: the default, 30 s (docs/settings.md).
    expect(DEFAULT_LIMITS.leaseMs).toBe(30_000);
    expect((await post("ha-lease", "ha-client-3", "job-3", "1", LONG_TIMEOUT)).status).toBe(202);
    const before = Date.now();
    const taken = await take("ha-lease", "ha-worker-4", 5_000);
    const after = Date.now();
    await taken.arrayBuffer();
    expect(leaseHeader(taken)).toBeLessThanOrEqual(30_000);
    expect(leaseHeader(taken)).toBeGreaterThan(30_000 - LEASE_SLACK_MS);
    const until = await leaseUntil("ha-lease", taken.headers.get("EdgeMQ-Request-Id") ?? "");
    expect(until).toBeGreaterThanOrEqual(before + 30_000);
    expect(until).toBeLessThanOrEqual(after + 30_000);
  });

  it("a lease call moves the lease's end to leaseMs from then", async () => {
    expect((await post("ha-extend", "ha-client-9", "job-9", "1", LONG_TIMEOUT)).status).toBe(202);
    const id = await takenId("ha-extend", "ha-worker-9");
    const leased = await leaseUntil("ha-extend", id);
    await sleep(50);
    const before = Date.now();
    const extended = await http(`/v1/queues/ha-extend/leases/${id}`, { identity: "ha-worker-9" });
    expect(extended.status).toBe(204);
    expect(leaseHeader(extended)).toBeLessThanOrEqual(30_000);
    expect(leaseHeader(extended)).toBeGreaterThan(30_000 - LEASE_SLACK_MS);
    expect(extended.headers.get("EdgeMQ-Request-Id")).toBe(id);
    const until = await leaseUntil("ha-extend", id);
    expect(until).toBeGreaterThan(leased);
    expect(until).toBeGreaterThanOrEqual(before + 30_000);
  });

  it("EdgeMQ-Lease-Ms on a take and a lease call is capped by the deadline when it comes first", async () => {
    const leaseMs = DEFAULT_LIMITS.leaseMs;
    const cases = [
      { id: "job-long", timeout: 4 * leaseMs, most: leaseMs },
      { id: "job-short", timeout: 3_000, most: 3_000 },
    ];
    for (const { id, timeout, most } of cases) {
      const posted = await http(`/v1/queues/ha-lease-cap/requests?async=true&timeout=${timeout}`, {
        identity: "ha-client-3",
        body: "1",
        headers: { "EdgeMQ-Request-Id": id },
      });
      expect(posted.status).toBe(202);
      const taken = await take("ha-lease-cap", "ha-worker-4", 5_000);
      await taken.arrayBuffer();
      const granted = Number(taken.headers.get("EdgeMQ-Lease-Ms"));
      // At most what the relay grants; the time this test took is all that may be missing.
      expect(granted).toBeLessThanOrEqual(most);
      expect(granted).toBeGreaterThan(most / 2);
      const leased = taken.headers.get("EdgeMQ-Request-Id") ?? "";
      const extended = await http(`/v1/queues/ha-lease-cap/leases/${leased}`, {
        identity: "ha-worker-4",
      });
      expect(extended.status).toBe(204);
      const renewed = Number(extended.headers.get("EdgeMQ-Lease-Ms"));
      expect(renewed).toBeLessThanOrEqual(most);
      expect(renewed).toBeGreaterThan(most / 2);
    }
  });

  it("a POST repeated with the same EdgeMQ-Request-Id is one request, run once", async () => {
    const first = await post("ha-dedup", "ha-client-4", "same-id", '{"n":1}');
    const again = await post("ha-dedup", "ha-client-4", "same-id", '{"n":1}');
    expect([first.status, again.status]).toEqual([202, 202]);
    expect(first.headers.get("EdgeMQ-Request-Id")).toBe("same-id");
    const id = await takenId("ha-dedup", "ha-worker-5");
    expect((await take("ha-dedup", "ha-worker-5", 0)).status).toBe(204);
    await http(`/v1/queues/ha-dedup/replies/${id}`, { identity: "ha-worker-5", body: "once" });
    expect(await (await outcome("same-id", "ha-client-4")).text()).toBe("once");
    // Posted again after the outcome: still the same request, its outcome kept, not run again.
    expect((await post("ha-dedup", "ha-client-4", "same-id")).status).toBe(202);
    expect((await take("ha-dedup", "ha-worker-5", 0)).status).toBe(204);
    expect(await (await outcome("same-id", "ha-client-4")).text()).toBe("once");
  });

  it("refuses a malformed EdgeMQ-Request-Id with 400", async () => {
    await expectError(await post("ha-bad", "ha-client-5", "has space"), 400, "bad_request");
  });

  it("DELETE cancels a pending request: its outcome is cancelled", async () => {
    expect((await post("ha-cancel", "ha-client-6", "job-6")).status).toBe(202);
    const cancelled = await http("/v1/queues/ha-cancel/requests/job-6", {
      method: "DELETE",
      identity: "ha-client-6",
    });
    expect(cancelled.status).toBe(204);
    const answer = await outcome("job-6", "ha-client-6");
    expect(field(await answer.json(), "error")).toMatchObject({ code: "cancelled" });
  });

  it("/v1/whoami names the caller, its roles, the protocol, the limits and the features, and refuses no identity", async () => {
    const answer = await http("/v1/whoami", { method: "GET", identity: "ha-someone" });
    expect(answer.status).toBe(200);
    // Dev mode: a declared identity has both roles. The test relay sets no limit: the defaults.
    expect(await answer.json()).toEqual({
      identity: "ha-someone",
      roles: ["client", "server"],
      protocol: PROTOCOL_VERSION,
      limits: DEFAULT_LIMITS,
      features: [OUTCOMES_FEATURE, LEASE_FEATURE],
    });
    await expectError(await http("/v1/whoami", { method: "GET" }), 401, "unauthorized");
  });

  it("/v1/whoami names a token's role, and a relay's settings in its limits", async () => {
    const token = await mint({ sub: "ha-token-client", role: "client", queues: ["q"] });
    const settings = { ...signedEnv, EDGEMQ_LEASE_MS: "12345", EDGEMQ_MAX_BODY_BYTES: "4096" };
    const answer = await call("/v1/whoami", { Authorization: `Bearer ${token}` }, settings);
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({
      identity: "ha-token-client",
      roles: ["client"],
      protocol: PROTOCOL_VERSION,
      limits: { ...DEFAULT_LIMITS, leaseMs: 12_345, maxBodyBytes: 4_096 },
      features: [OUTCOMES_FEATURE, LEASE_FEATURE],
    });
  });
});
