/**
 * Server choice: free capacity first, then least recently used, ties to the older connection;
 * for a request that runs alone, an idle server, or the one to keep free until it is.
 */
import { describe, expect, it } from "vitest";
import {
  chooseIdleServer,
  chooseServer,
  freeCapacity,
  serverToKeepFree,
} from "../../../durable-objects/queue/server-choice.js";

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

describe("servers and requests that run alone", () => {
  it("gives nothing to a server holding a request that runs alone, or one kept free for one", () => {
    const alone = { ...server("alone", 8, 1, 0), alone: true };
    const kept = server("kept", 8, 1, 1);
    expect(chooseServer([alone, kept, server("other", 8, 7, 9)])?.connId).toBe("kept");
    expect(chooseServer([alone, kept, server("other", 8, 7, 9)], new Set(["kept"]))?.connId).toBe(
      "other",
    );
    expect(chooseServer([alone, kept], new Set(["kept"]))).toBeUndefined();
  });

  it("places a request that runs alone on an idle server only, least recently used first", () => {
    const busy = server("busy", 8, 1, 0);
    expect(chooseIdleServer([busy])).toBeUndefined();
    expect(chooseIdleServer([busy, server("b", 1, 0, 5), server("c", 1, 0, 2)])?.connId).toBe("c");
    const stalled = { ...server("stalled", 1, 0, 0), stalled: true };
    expect(chooseIdleServer([stalled, server("draining", 0, 0, 0)])).toBeUndefined();
  });

  it("keeps free the server holding fewest, then the least recently used, never one again", () => {
    const servers = [server("a", 4, 3, 1), server("b", 4, 1, 9), server("c", 4, 1, 2)];
    expect(serverToKeepFree(servers, new Set())?.connId).toBe("c");
    expect(serverToKeepFree(servers, new Set(["c"]))?.connId).toBe("b");
    const alone = { ...server("alone", 4, 1, 0), alone: true };
    expect(serverToKeepFree([alone, server("draining", 0, 0, 0)], new Set())).toBeUndefined();
  });
});
