/**
 * The lease an HTTP server asks for: from a relay whose `GET /v1/whoami` lists the "lease"
 * feature, every take and lease call of its service carries `lease=HTTP_SERVER_LEASE_MS` (on a
 * partitioned queue beside `partition=`; the batch route and the one-id route alike), so a server
 * that crashes holds its requests that long, not the relay's whole leaseMs. A relay without the
 * feature (an older one, which refuses an unknown parameter) gets no `lease=`. Fake fetch and fake
 * timers.
 */
import { describe, expect, it, vi } from "vitest";
import { HTTP_SERVER_LEASE_MS } from "../../../client/http-leases.js";
import { connect, type FetchLike } from "../../../client/index.js";
import { json, peerUnderFakeTimers, takeHeaders } from "./http-fakes.js";

const BASE = "http://relay.test";

/** A relay of `partitions` partitions with one request queued on each; it records every path. */
class FakeRelay {
  readonly paths: string[] = [];
  readonly #queued: string[];

  constructor(
    readonly features: string[],
    readonly partitions = 1,
    /** False: the batch lease route answers 404, as a relay from before it. */
    readonly batchRoute = true,
  ) {
    this.#queued = Array.from({ length: partitions }, (_, p) =>
      partitions > 1 ? `p${p}.00000000000${p + 1}` : "000000000001",
    );
  }

  readonly fetch: FetchLike = async (url, init) => {
    const path = url.slice(BASE.length);
    this.paths.push(path);
    if (path === "/v1/whoami") {
      const limits = { leaseMs: 30_000 };
      return json(200, { identity: "alice", roles: ["server"], limits, features: this.features });
    }
    const placement = { "EdgeMQ-Partitions": String(this.partitions) };
    if (path.includes("/take?")) return this.#take(path, placement);
    if (path.includes("/leases?") || path.endsWith("/leases")) {
      if (!this.batchRoute) return json(404, { error: { code: "not_found", message: "no" } });
      const ids: string[] = JSON.parse(String(init.body)).ids;
      return json(200, { leases: ids.map((id) => ({ id, status: 204, leaseMs: 10_000 })) });
    }
    return new Response(null, { status: 204, headers: { "EdgeMQ-Lease-Ms": "10000" } });
  };

  async #take(path: string, placement: Record<string, string>): Promise<Response> {
    const query = new URLSearchParams(path.slice(path.indexOf("?") + 1));
    const partition = Number(query.get("partition") ?? "0");
    const at = this.#queued.findIndex(
      (id) => this.partitions === 1 || id.startsWith(`p${partition}.`),
    );
    const id = at < 0 ? undefined : this.#queued.splice(at, 1)[0];
    const headers = { ...placement, "EdgeMQ-Partition": String(partition) };
    if (id === undefined) {
      await new Promise((resolve) => setTimeout(resolve, Number(query.get("wait") ?? "0")));
      return new Response(null, { status: 204, headers });
    }
    const leased = { ...headers, "EdgeMQ-Lease-Ms": "10000" };
    return new Response("job", { status: 200, headers: takeHeaders(id, leased) });
  }

  /** The paths of takes and lease calls (after whoami). */
  calls(): string[] {
    return this.paths.filter((p) => p.includes("/take?") || p.includes("/leases"));
  }
}

const held = peerUnderFakeTimers();

/** Serves with a handler that runs 7 s (lease calls go out meanwhile), for 10 s. */
async function serveAwhile(relay: FakeRelay): Promise<void> {
  held.peer = await connect(BASE, { transport: "http", identity: "alice", fetch: relay.fetch });
  held.peer.serve("jobs", async () => {
    await new Promise((resolve) => setTimeout(resolve, 7_000));
    return "done";
  });
  await vi.advanceTimersByTimeAsync(10_000);
}

const ASKED = `lease=${HTTP_SERVER_LEASE_MS}`;

describe("an HTTP server's lease", () => {
  it("is asked for on every take and lease call from a relay listing the lease feature", async () => {
    const relay = new FakeRelay(["outcomes", "lease"]);
    await serveAwhile(relay);
    const calls = relay.calls();
    expect(calls.filter((p) => p.includes("/take?")).length).toBeGreaterThan(0);
    expect(calls.filter((p) => p.includes("/leases")).length).toBeGreaterThan(0);
    expect(calls.filter((p) => !p.includes(ASKED))).toEqual([]);
    expect(HTTP_SERVER_LEASE_MS).toBe(10_000);
  });

  it("is asked for beside the partition, on the one-id route too", async () => {
    const relay = new FakeRelay(["lease"], 2, false);
    await serveAwhile(relay);
    const calls = relay.calls();
    expect(calls.some((p) => /\/leases\/p0\.[0-9]+\?partition=0&lease=10000$/.test(p))).toBe(true);
    expect(calls.some((p) => /\/take\?wait=[0-9]+&partition=1&lease=10000$/.test(p))).toBe(true);
    expect(calls.filter((p) => !p.includes(ASKED))).toEqual([]);
  });

  it("is never asked for from a relay without the feature", async () => {
    const relay = new FakeRelay(["outcomes"]);
    await serveAwhile(relay);
    const calls = relay.calls();
    expect(calls.filter((p) => p.includes("/leases")).length).toBeGreaterThan(0);
    expect(calls.filter((p) => p.includes("lease="))).toEqual([]);
  });
});
