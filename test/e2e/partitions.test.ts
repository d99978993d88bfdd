/**
 * E2E partitioned queue: a relay with EDGEMQ_QUEUE_PARTITIONS part*=4, 40 client identities x 10
 * requests to `part-q`, 2 SDK server processes that call plain serve() (the SDK attaches them to
 * all 4 partitions itself). Every reply reaches the client that sent it, and every partition's
 * requests were served (the handler sees `req.partition`). Then the same through an HTTP-transport
 * SDK server (identity `http-*`, peers/peer.mjs), whose answers must reach the right partition.
 */
import { describe, expect, it } from "vitest";
import { burst, serve, serverStats } from "./support/commands.js";
import { useRelay } from "./support/fixture.js";

const QUEUE = "part-q";
const PARTITIONS = 4;
const IDENTITIES = 40;
const REQUESTS_PER_IDENTITY = 10;
const SERVERS = 2;

describe("a partitioned queue", () => {
  const e2e = useRelay({
    vars: { EDGEMQ_QUEUE_PARTITIONS: `part*=${PARTITIONS}` },
    ports: { relay: { first: 18400, last: 18449 }, inspector: { first: 19400, last: 19449 } },
  });

  it("brings every reply of 40 identities x 10 requests home, with work served on all 4 partitions by 2 servers", async () => {
    const servers = await Promise.all(
      Array.from({ length: SERVERS }, (_, i) => e2e.peer(`server-${i}`)),
    );
    await Promise.all(
      servers.map((s, i) =>
        serve(s, {
          identity: `part-worker-${i}`,
          queue: QUEUE,
          mode: "tagged",
          concurrency: 8,
          name: `part-worker-${i}`,
          delayMs: 2,
        }),
      ),
    );
    const client = await e2e.peer("clients");
    const identities = Array.from({ length: IDENTITIES }, (_, i) => `part-client-${i}`);
    const summary = await burst(
      client,
      { identities, perIdentity: REQUESTS_PER_IDENTITY, queue: QUEUE, timeout: 60_000 },
      90_000,
    );
    const total = IDENTITIES * REQUESTS_PER_IDENTITY;
    expect(summary.samples).toEqual([]);
    expect(summary).toMatchObject({
      sent: total,
      ok: total,
      misrouted: 0,
      wrongPayload: 0,
      errors: {},
    });

    const stats = await Promise.all(servers.map((s) => serverStats(s)));
    const perPartition = new Map<string, number>();
    for (const s of stats) {
      for (const [partition, n] of Object.entries(s.byPartition)) {
        perPartition.set(partition, (perPartition.get(partition) ?? 0) + n);
      }
    }
    expect([...perPartition.keys()].sort()).toEqual(["0", "1", "2", "3"]);
    expect([...perPartition.values()].reduce((a, b) => a + b, 0)).toBe(total);
  });

  it("serves every partition through the SDK's HTTP transport too, each answer reaching its partition", async () => {
    const server = await e2e.peer("http-server");
    await serve(server, {
      identity: "http-part-worker",
      queue: "part-h",
      mode: "tagged",
      concurrency: 8,
      name: "http-part-worker",
      delayMs: 1,
    });
    const client = await e2e.peer("http-clients");
    const identities = Array.from({ length: 20 }, (_, i) => `part-h-client-${i}`);
    const summary = await burst(
      client,
      { identities, perIdentity: 5, queue: "part-h", timeout: 60_000 },
      90_000,
    );
    expect(summary.samples).toEqual([]);
    expect(summary).toMatchObject({ sent: 100, ok: 100, misrouted: 0, errors: {} });
    const stats = await serverStats(server);
    expect(Object.keys(stats.byPartition).sort()).toEqual(["0", "1", "2", "3"]);
    expect(stats.handled).toBe(100);
  });
});
