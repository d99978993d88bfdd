/** Server choice: free capacity first, then least recently used, ties to the older connection. */
import { describe, expect, it } from "vitest";
import { chooseServer, freeCapacity } from "../../../durable-objects/queue/server-choice.js";

const server = (connId: string, concurrency: number, inFlight: number, lastUsed: number) => ({
  connId,
  concurrency,
  inFlight,
  lastUsed,
});

describe("chooseServer", () => {
  it("picks the least recently used server among those with free capacity", () => {
    const servers = [server("a", 2, 0, 7), server("b", 2, 1, 3), server("c", 2, 0, 5)];
    expect(chooseServer(servers)?.connId).toBe("b");
  });

  it("skips full and draining servers", () => {
    const servers = [server("full", 1, 1, 0), server("drain", 0, 0, 0), server("free", 3, 2, 9)];
    expect(chooseServer(servers)?.connId).toBe("free");
  });

  it("skips a stalled server (a lease of its ran out with no word since), however free", () => {
    const stalled = { ...server("stalled", 5, 0, 0), stalled: true };
    expect(chooseServer([stalled, server("busy", 2, 1, 7)])?.connId).toBe("busy");
    expect(chooseServer([stalled])).toBeUndefined();
  });

  it("returns undefined when no server has room", () => {
    expect(chooseServer([server("a", 1, 1, 0), server("b", 0, 0, 0)])).toBeUndefined();
    expect(chooseServer([])).toBeUndefined();
  });

  it("prefers the earlier listed server when both were never used", () => {
    expect(chooseServer([server("old", 1, 0, 0), server("new", 1, 0, 0)])?.connId).toBe("old");
  });

  it("never reports negative free capacity when concurrency was lowered below in-flight", () => {
    expect(freeCapacity(server("a", 1, 4, 0))).toBe(0);
  });
});
