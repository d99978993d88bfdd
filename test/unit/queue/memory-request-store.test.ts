/** The memory delivery mode's request store: resend detection, purging and timers, in Node. */
import { describe, expect, it } from "vitest";
import { MemoryRequestStore } from "../../../durable-objects/queue/memory-request-store.js";
import type { NewRequest } from "../../../durable-objects/queue/store-contract.js";

const WINDOW = 1_000;

function request(from: string, clientId: string, deadline: number): NewRequest {
  const body = { enc: "utf8" as const, data: "x" };
  return { clientId, from, body, headers: undefined, deadline, now: 0, sawServer: true };
}

function store(): MemoryRequestStore {
  return new MemoryRequestStore(() => {}, "q");
}

function reply(id: string) {
  return { type: "reply" as const, id, body: { enc: "utf8" as const, data: "y" } };
}

/** The rids of the outcomes `s` has due by `now`, none skipped. */
function dueRids(s: MemoryRequestStore, now: number): number[] {
  const query = { now, limit: 10, maxChars: 1_000, skip: () => false };
  return s.dueOutcomes(query).loaded.map((d) => d.rid);
}

describe("MemoryRequestStore", () => {
  it("stores a request once per (identity, id) and finds it by that pair", () => {
    const s = store();
    const rid = s.insert(request("alice", "r1", 100));
    expect(rid).toBeTypeOf("number");
    expect(s.insert(request("alice", "r1", 200))).toBeUndefined();
    expect(s.findRid("alice", "r1")).toBe(rid);
    expect(s.findStored("alice", "r1")).toEqual({ deadline: 100, viaHttp: undefined });
    // The same id from another identity is another request.
    const other = s.insert(request("bob", "r1", 300));
    expect(other).not.toBe(rid);
    expect(s.findStored("bob", "r1")).toEqual({ deadline: 300, viaHttp: undefined });
    expect(s.insert({ ...request("carol", "w2", 400), viaHttp: false })).toBeTypeOf("number");
    expect(s.findStored("carol", "w2")).toEqual({ deadline: 400, viaHttp: false });
    expect(s.insert({ ...request("carol", "r2", 400), viaHttp: true })).toBeTypeOf("number");
    expect(s.findStored("carol", "r2")).toEqual({ deadline: 400, viaHttp: true });
    expect(s.findRid("carol", "r1")).toBeUndefined();
  });

  it("keeps a finished request's ids for the dedup window, then forgets them", () => {
    const s = store();
    const rid = s.insert(request("alice", "r1", 100)) ?? -1;
    s.finish(rid, { type: "reply", id: "r1", body: { enc: "utf8", data: "y" } }, 50, true);
    s.purge(100 + WINDOW - 1, WINDOW);
    expect(s.findRid("alice", "r1")).toBe(rid);
    expect(s.insert(request("alice", "r1", 500))).toBeUndefined();
    s.purge(100 + WINDOW, WINDOW);
    expect(s.findRid("alice", "r1")).toBeUndefined();
    expect(s.insert(request("alice", "r1", 5_000))).toBeTypeOf("number");
  });

  it("makes the undelivered outcomes of one identity's link requests due at once", () => {
    const s = store();
    const onLink = s.insert({ ...request("alice", "l1", 100_000), viaLink: true }) ?? -1;
    const direct = s.insert(request("alice", "d1", 100_000)) ?? -1;
    const other = s.insert({ ...request("bob", "l1", 100_000), viaLink: true }) ?? -1;
    for (const [rid, id] of [
      [onLink, "l1"],
      [direct, "d1"],
      [other, "l1"],
    ] as const) {
      s.finish(rid, reply(id), 50);
    }
    s.retryDelivery([onLink, direct, other], 60_000);
    s.linkOutcomesDue("alice", 70);
    expect(dueRids(s, 70)).toEqual([onLink]);
  });

  it("lists the due outcomes a flush skips apart, and says when more are due than its limit", () => {
    const s = store();
    const ids = ["a", "b", "c", "d"];
    const rids = ids.map((id) => s.insert(request("alice", id, 100_000)) ?? -1);
    for (const [i, rid] of rids.entries()) s.finish(rid, reply(ids[i] ?? ""), 50);
    const [a, b, c] = rids;
    const skip = (rid: number) => rid === b;
    // Not yet due: nothing at all.
    expect(s.dueOutcomes({ now: 0, limit: 10, maxChars: 0, skip })).toEqual({
      loaded: [],
      skipped: [],
      more: false,
    });
    // A skipped row counts toward the limit; the budget of characters does not apply in memory.
    const three = s.dueOutcomes({ now: 5_000, limit: 3, maxChars: 0, skip });
    expect(three.loaded.map((d) => d.rid)).toEqual([a, c]);
    expect(three.skipped.map((d) => d.rid)).toEqual([b]);
    expect(three.more).toBe(true);
    expect(s.dueOutcomes({ now: 5_000, limit: 4, maxChars: 0, skip }).more).toBe(false);
  });

  it("counts the characters of live bodies and waiting outcomes it holds, until they go", () => {
    const s = store();
    const big = { enc: "utf8" as const, data: "x".repeat(1_000) };
    const a = s.insert({ ...request("alice", "a", 100_000), body: big }) ?? -1;
    const b = s.insert({ ...request("alice", "b", 100_000), headers: { k: "vv" } }) ?? -1;
    expect(s.memoryChars()).toBe(1_000 + 1 + 3);
    // A finished request's body goes; its outcome stays until delivered.
    s.finish(a, { type: "reply", id: "a", body: { enc: "utf8", data: "y".repeat(10) } }, 50);
    expect(s.memoryChars()).toBe(10 + 1 + 3);
    s.finish(b, { type: "error", id: "b", code: "timeout", message: "late" }, 50, true);
    expect(s.memoryChars()).toBe(10);
    s.delivered([a]);
    expect(s.memoryChars()).toBe(0);
  });

  it("does not purge a finished request whose outcome still waits for delivery", () => {
    const s = store();
    const rid = s.insert(request("alice", "r1", 100)) ?? -1;
    s.finish(rid, { type: "reply", id: "r1", body: { enc: "utf8", data: "y" } }, 50);
    s.purge(100 + WINDOW * 10, WINDOW);
    expect(s.findRid("alice", "r1")).toBe(rid);
    expect(dueRids(s, 50 + 2_000)).toEqual([rid]);
  });

  it("purges the requests finished after one whose outcome waits for delivery, and that one once delivered", () => {
    const s = store();
    const reply = {
      type: "reply" as const,
      id: "stuck",
      body: { enc: "utf8" as const, data: "y" },
    };
    const stuck = s.insert(request("never-acks", "stuck", 100)) ?? -1;
    s.finish(stuck, reply, 50);
    const others = Array.from({ length: 50 }, (_, i) => {
      const rid = s.insert(request(`client-${i}`, "r", 100)) ?? -1;
      s.finish(rid, { ...reply, id: "r" }, 60, true);
      return rid;
    });
    s.purge(100 + WINDOW, WINDOW);
    expect(others.map((_, i) => s.findRid(`client-${i}`, "r"))).toEqual(
      others.map(() => undefined),
    );
    expect(s.findRid("never-acks", "stuck")).toBe(stuck);
    // Purged again and again while undelivered, it stays; once delivered, it goes.
    s.purge(100 + WINDOW * 2, WINDOW);
    expect(s.findRid("never-acks", "stuck")).toBe(stuck);
    s.delivered([stuck]);
    s.purge(100 + WINDOW * 3, WINDOW);
    expect(s.findRid("never-acks", "stuck")).toBeUndefined();
  });

  it("reports the earliest deadline, lease end and delivery retry of live requests", () => {
    const s = store();
    const a = s.insert(request("alice", "a", 900)) ?? -1;
    s.insert(request("bob", "b", 700));
    s.lease(a, "conn-1", 400);
    const done = s.insert(request("carol", "c", 300)) ?? -1;
    s.finish(done, { type: "reply", id: "c", body: { enc: "utf8", data: "y" } }, 250);
    expect(s.timers(WINDOW)).toEqual({
      nextDeadline: 700,
      nextLeaseEnd: 400,
      nextDeliveryRetry: 250 + 1_000,
      nextPurge: 300 + WINDOW,
    });
  });
});
