/**
 * E2E routing: 100 client identities in 4 processes send 20 requests each to one queue served by
 * 3 server processes. The servers echo `req.from` and the payload; each client checks both, so a
 * reply that reached the wrong identity, or carried another request's payload, is counted.
 */
import { describe, expect, it } from "vitest";
import { burst, serve, serverStats } from "./support/commands.js";
import { useRelay } from "./support/fixture.js";

const QUEUE = "route";
const CLIENT_PROCESSES = 4;
const IDENTITIES_PER_PROCESS = 25;
const REQUESTS_PER_IDENTITY = 20;
const SERVERS = 3;

describe("routing across processes", () => {
  const e2e = useRelay();

  it("delivers every reply of 100 identities x 20 requests to the client that sent it, and all 3 servers do work", async () => {
    const servers = await Promise.all(
      Array.from({ length: SERVERS }, (_, i) => e2e.peer(`server-${i}`)),
    );
    await Promise.all(
      servers.map((s, i) =>
        serve(s, {
          identity: `worker-${i}`,
          queue: QUEUE,
          mode: "tagged",
          concurrency: 8,
          name: `worker-${i}`,
          // A little work per request, so that no single server can drain the queue alone.
          delayMs: 2,
        }),
      ),
    );
    const clients = await Promise.all(
      Array.from({ length: CLIENT_PROCESSES }, (_, p) => e2e.peer(`clients-${p}`)),
    );
    const identitiesOf = (p: number) =>
      Array.from({ length: IDENTITIES_PER_PROCESS }, (_, i) => `client-${p}-${i}`);

    const summaries = await Promise.all(
      clients.map((c, p) =>
        burst(
          c,
          {
            identities: identitiesOf(p),
            perIdentity: REQUESTS_PER_IDENTITY,
            queue: QUEUE,
            timeout: 90_000,
          },
          110_000,
        ),
      ),
    );

    const perProcess = IDENTITIES_PER_PROCESS * REQUESTS_PER_IDENTITY;
    for (const summary of summaries) {
      expect(summary.samples).toEqual([]);
      expect(summary).toMatchObject({
        sent: perProcess,
        ok: perProcess,
        misrouted: 0,
        wrongPayload: 0,
        errors: {},
      });
    }

    const stats = await Promise.all(servers.map((s) => serverStats(s)));
    for (const s of stats) expect(s.handled).toBeGreaterThan(0);
    const total = CLIENT_PROCESSES * perProcess;
    // Nothing failed, so no request may run twice: list any that did, with where and how.
    const runs = new Map<string, string[]>();
    stats.forEach((s, i) => {
      for (const r of s.records) {
        const key = `${r.from}/${r.key}`;
        runs.set(key, [
          ...(runs.get(key) ?? []),
          `server-${i} relay-id ${r.id} attempt ${r.attempt}`,
        ]);
      }
    });
    const twice = [...runs].filter(([, where]) => where.length > 1).slice(0, 10);
    expect(twice).toEqual([]);
    expect(runs.size).toBe(total);
    expect(stats.reduce((sum, s) => sum + s.handled, 0)).toBe(total);
    for (const c of clients) expect(c.eventsOf("unhandled")).toEqual([]);
  });
});
