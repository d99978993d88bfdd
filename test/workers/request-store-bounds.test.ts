/**
 * The durable request store's per-identity cache of largest request ids (`maxIds`,
 * durable-objects/queue/request-store.ts) stays bounded: a partition that sees many identities
 * over its life forgets the cache at a release of held writes once it passed MAX_ID_BOUNDS, and
 * still tells a resend from a new request afterwards. White-box: a fresh store over a queue
 * object's SQLite, inside runInDurableObject. Also: each row records whether HTTP sent it.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { MAX_ID_BOUNDS, SqlRequestStore } from "../../durable-objects/queue/request-store.js";
import type { NewRequest } from "../../durable-objects/queue/store-contract.js";

function newRequest(from: string, clientId: string): NewRequest {
  const body = { enc: "utf8" as const, data: "x" };
  return {
    clientId,
    from,
    body,
    headers: undefined,
    deadline: Date.now() + 60_000,
    now: Date.now(),
    sawServer: true,
  };
}

function cacheSize(store: SqlRequestStore): number {
  return (store as unknown as { maxIds: Map<string, string> }).maxIds.size;
}

describe("SqlRequestStore's largest-id cache", () => {
  it("is forgotten at a release once it passed MAX_ID_BOUNDS, and resends are still found", async () => {
    await runInDurableObject(env.QUEUE.getByName("store-bounds"), (_instance, state) => {
      const store = new SqlRequestStore(state.storage.sql);
      const reply = { type: "reply" as const, id: "r1", body: { enc: "utf8" as const, data: "y" } };
      const held = (from: string, id: string) =>
        state.storage.transactionSync(() => {
          expect(store.holdWrites(1, 1)).toBe(true);
          const rid = store.insert(newRequest(from, id));
          store.releaseHeld();
          return rid;
        });
      const identities = MAX_ID_BOUNDS + 10;
      for (let i = 0; i < identities; i++) {
        const rid = held(`client-${i}`, "r1");
        if (rid === undefined) throw new Error("a new request was taken for a resend");
        store.finish(rid, reply, Date.now(), true);
      }
      expect(cacheSize(store)).toBeLessThan(identities - MAX_ID_BOUNDS + 1);
      // Forgetting the cache loses nothing: the stored ids are looked up again.
      expect(held("client-7", "r1")).toBeUndefined();
      expect(held("client-7", "r2")).toBeTypeOf("number");
    });
  });
});

describe("SqlRequestStore's record of how each request was sent", () => {
  it("finds a request's transport whether its insert ran, was held, or predates the column", async () => {
    await runInDurableObject(env.QUEUE.getByName("store-transport"), (_instance, state) => {
      const store = new SqlRequestStore(state.storage.sql);
      const http = { ...newRequest("dora", "h1"), viaHttp: true };
      state.storage.transactionSync(() => store.insert(http));
      expect(store.findStored("dora", "h1")).toEqual({ deadline: http.deadline, viaHttp: true });
      state.storage.transactionSync(() => {
        expect(store.holdWrites(1, 1)).toBe(true);
        store.insert({ ...newRequest("dora", "w1"), viaHttp: false });
        expect(store.findStored("dora", "w1")?.viaHttp).toBe(false);
        store.releaseHeld();
      });
      expect(store.findStored("dora", "w1")?.viaHttp).toBe(false);
      // A row written before via_http existed has NULL there, as one whose sender did not say.
      state.storage.sql.exec("UPDATE requests SET via_http = NULL WHERE client_id = 'h1'");
      expect(store.findStored("dora", "h1")?.viaHttp).toBeUndefined();
      state.storage.transactionSync(() => store.insert(newRequest("dora", "u1")));
      expect(store.findStored("dora", "u1")?.viaHttp).toBeUndefined();
    });
  });
});
