/** The durable store's cache of live rows (live-row-cache.ts): copies out, bounds, changes. */
import { describe, expect, it } from "vitest";
import { LiveRowCache } from "../../../durable-objects/queue/live-row-cache.js";
import type { StoredRequest } from "../../../durable-objects/queue/request-row.js";

function row(rid: number): StoredRequest {
  return {
    rid,
    clientId: `c${rid}`,
    from: "alice",
    body: { enc: "json", data: "1" },
    headers: undefined,
    deadline: 1_000,
    attempt: 0,
    state: "queued",
    leaseConn: null,
    leaseUntil: null,
    sawServer: true,
    viaLink: true,
  };
}

describe("LiveRowCache", () => {
  it("returns a copy: changing what get returned does not change the cached row", () => {
    const cache = new LiveRowCache();
    cache.add(row(1), 10);
    const got = cache.get(1);
    if (got === undefined) throw new Error("row 1 not cached");
    got.state = "done";
    expect(cache.get(1)?.state).toBe("queued");
  });

  it("applies changes to one row or to all rows, and forgets deleted rows", () => {
    const cache = new LiveRowCache();
    cache.add(row(1), 10);
    cache.add(row(2), 10);
    cache.update(1, (r) => {
      r.state = "leased";
      r.attempt += 1;
    });
    cache.updateAll((r) => {
      r.sawServer = false;
    });
    expect(cache.get(1)).toMatchObject({ state: "leased", attempt: 1, sawServer: false });
    expect(cache.get(2)).toMatchObject({ state: "queued", attempt: 0, sawServer: false });
    cache.delete(1);
    expect(cache.get(1)).toBeUndefined();
    cache.update(1, (r) => {
      r.attempt = 99;
    });
    expect(cache.get(1)).toBeUndefined();
  });

  it("caches no row past its row bound or its body-character bound (those are read from SQLite)", () => {
    const cache = new LiveRowCache(2, 100);
    cache.add(row(1), 10);
    cache.add(row(2), 10);
    cache.add(row(3), 10);
    expect(cache.size).toBe(2);
    expect(cache.get(3)).toBeUndefined();

    const small = new LiveRowCache(10, 100);
    small.add(row(1), 60);
    small.add(row(2), 60);
    expect(small.get(2)).toBeUndefined();
    small.delete(1); // frees its 60 characters
    small.add(row(3), 60);
    expect(small.get(3)).toBeDefined();
  });

  it("holds nothing after clear (a rolled-back transaction)", () => {
    const cache = new LiveRowCache();
    cache.add(row(1), 10);
    cache.clear();
    expect(cache.size).toBe(0);
    expect(cache.get(1)).toBeUndefined();
  });
});
