/**
 * EDGEMQ_EXCHANGE_SHARDS: which exchange object holds an identity (exchangeName, by the 32-bit
 * FNV-1a hash of the identity). The front door, the exchanges and the queues must all name the
 * same object for an identity, on every call and after every restart, so the hash is pinned to
 * its published test vectors: another hash would move identities and strand their outboxes.
 */
import { describe, expect, it } from "vitest";
import { exchangeName, fnv1a } from "../../../durable-objects/shared/contracts.js";

const identities = Array.from({ length: 1_000 }, (_, i) => `client-${i}`);

describe("fnv1a", () => {
  it("is 32-bit FNV-1a: the published test vectors", () => {
    expect(fnv1a("")).toBe(0x811c9dc5);
    expect(fnv1a("a")).toBe(0xe40c292c);
    expect(fnv1a("foobar")).toBe(0xbf9cf968);
  });

  it("is an unsigned 32-bit integer for any identity", () => {
    for (const identity of [...identities, "ü-unicode-☃", "x".repeat(10_000)]) {
      const hash = fnv1a(identity);
      expect(Number.isInteger(hash)).toBe(true);
      expect(hash).toBeGreaterThanOrEqual(0);
      expect(hash).toBeLessThan(2 ** 32);
    }
  });
});

describe("exchangeName", () => {
  it("names the single exchange object for every identity with one shard (the default)", () => {
    for (const identity of identities) expect(exchangeName(identity, 1)).toBe("exchange");
  });

  it("names the same shard for an identity every time", () => {
    for (const identity of identities) {
      expect(exchangeName(identity, 8)).toBe(exchangeName(identity, 8));
      expect(exchangeName(identity, 8)).toBe(`exchange-${fnv1a(identity) % 8}`);
    }
  });

  it("names only shards 0 to K-1, and spreads identities over all of them", () => {
    for (const shards of [2, 3, 4, 16]) {
      const counts = new Map<string, number>();
      for (const identity of identities) {
        const name = exchangeName(identity, shards);
        counts.set(name, (counts.get(name) ?? 0) + 1);
      }
      const names = Array.from({ length: shards }, (_, i) => `exchange-${i}`);
      expect([...counts.keys()].sort()).toEqual(names.sort());
      // An even spread gives each 1,000 / K; none gets less than half of that.
      for (const count of counts.values()) {
        expect(count).toBeGreaterThanOrEqual(identities.length / shards / 2);
      }
    }
  });
});
