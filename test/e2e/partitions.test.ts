/**
 * E2E partitioned queue: a relay with EDGEMQ_QUEUE_PARTITIONS part*=4, 40 client identities x 10
 * requests to `part-q`, 2 SDK server processes that call plain serve() (the SDK attaches them to
 * all 4 partitions itself). Every reply reaches the client that sent it, and every partition's
 * requests were served (the handler sees `req.partition`). Then the same through an HTTP-transport
 * SDK server (identity `http-*`, peers/peer.mjs), whose answers must reach the right partition.
 * Last, a server of either transport, once its serve() is ready, is found by a failFast request
 * of a client of every partition (in-process SDK peers).
 */
import { describe, expect, it } from "vitest";
import { connect, type Peer } from "../../client/index.js";
import { partitionOf } from "../../durable-objects/shared/queue-partitions.js";
import { burst, serve, serverStats } from "./support/commands.js";
import { useRelay } from "./support/fixture.js";

const QUEUE = "part-q";
const PARTITIONS = 4;
const IDENTITIES = 40;
const REQUESTS_PER_IDENTITY = 10;
const SERVERS = 2;

/** An identity `<prefix>-<n>` whose requests go to `partition` of a queue of PARTITIONS. */
function identityOn(prefix: string, partition: number): string {
  for (let n = 0; ; n++) {
    const identity = `${prefix}-${n}`;
    if (partitionOf(identity, PARTITIONS) === partition) return identity;
  }
}

/** Waits (bounded) until `queue`'s stats count `queued` requests waiting. */
async function untilQueued(url: string, queue: string, queued: number): Promise<void> {
  const stats = new URL(`/v1/queues/${queue}/stats`, url.replace(/^ws/, "http"));
  for (let i = 0; i < 200; i++) {
    const answer = await fetch(stats, { headers: { "EdgeMQ-Identity": "part-watcher" } });
    const body = (await answer.json()) as { queued?: number };
    if (body.queued === queued) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${queue} never held ${queued} queued requests`);
}

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

  for (const transport of ["websocket", "http"] as const) {
    it(`has a ${transport} server on every partition once serve() is ready: failFast finds it from each`, async () => {
      // Found by a probe: ready followed partition 0's welcome alone (WebSocket), or a first take
      // that brought a request from one partition (HTTP, hence the backlog on partition 0), so a
      // failFast request sent right after it from another partition got no_responders.
      const url = e2e.relay().url;
      const queue = `part-ready-${transport}`;
      const clients: Peer[] = [];
      for (let p = 0; p < PARTITIONS; p++) {
        clients.push(await connect(url, { identity: identityOn(`ready-${transport}`, p) }));
      }
      const [first] = clients;
      if (first === undefined) throw new Error("no client");
      const backlog = Array.from({ length: 8 }, (_, i) =>
        first.request(queue, i, { timeout: 30_000 }),
      );
      await untilQueued(url, queue, backlog.length);
      const server = await connect(url, { identity: `ready-server-${transport}`, transport });
      try {
        const service = server.serve(queue, (req) => req.partition ?? 0, { concurrency: 4 });
        await service.ready;
        const answers = await Promise.all(
          clients.map((client) =>
            client.request(queue, "x", { failFast: true, timeout: 10_000 }).then(
              (partition) => partition,
              (error: { code?: string }) => error.code,
            ),
          ),
        );
        expect(answers).toEqual([0, 1, 2, 3]);
        await Promise.all(backlog);
      } finally {
        await Promise.all([server, ...clients].map((peer) => peer.close()));
      }
    });
  }
});
