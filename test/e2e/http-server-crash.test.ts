/**
 * E2E HTTP server loss with the default settings (30 s lease, 30 s request timeout): an SDK
 * server over the HTTP transport holds 4 requests without answering and is killed with SIGKILL;
 * another HTTP server then serves them, as attempt 2, and every client gets its reply before its
 * 30 s deadline. Over HTTP the relay hears of the crash only when a lease runs out (a WebSocket
 * server's requests come back when its socket closes, server-crash.test.ts): the SDK's HTTP
 * service asks for a short lease (`?lease=`, HTTP_SERVER_LEASE_MS), where the relay's whole
 * leaseMs, as long as the default timeout, saw every one end in `timeout`, never run again. On a
 * durable queue, a memory queue and a queue of 2 partitions. Peers named `http-*` use the HTTP
 * transport (peers/peer.mjs).
 */
import { describe, expect, it } from "vitest";
import { partitionOf } from "../../durable-objects/shared/queue-partitions.js";
import {
  awaitBurst,
  connectIdentities,
  serve,
  serverStats,
  startBurst,
} from "./support/commands.js";
import { useRelay } from "./support/fixture.js";

/** The relay's default request timeout, given as such. */
const DEFAULT_TIMEOUT_MS = 30_000;
const PARTITIONS = 2;

/** Two client identities whose requests land on each partition of a 2-partition queue. */
function clients(queue: string): string[] {
  const found: string[][] = [[], []];
  for (let i = 0; found.some((ids) => ids.length < 2); i++) {
    const identity = `http-${queue}-client-${i}`;
    const ids = found[partitionOf(identity, PARTITIONS)];
    if (ids !== undefined && ids.length < 2) ids.push(identity);
  }
  return found.flat();
}

describe("an HTTP server killed while holding requests, with the default lease and timeout", () => {
  const e2e = useRelay({
    vars: {
      EDGEMQ_QUEUE_MODES: "hsc-mem=memory",
      EDGEMQ_QUEUE_PARTITIONS: `hsc-part=${PARTITIONS}`,
    },
  });

  it.each(["hsc-durable", "hsc-mem", "hsc-part"])(
    "serves the requests it held on another HTTP server as attempt 2, before their deadline (%s)",
    async (queue) => {
      const identities = clients(queue);
      const total = identities.length;
      const doomed = await e2e.peer(`${queue}-doomed`);
      // Exactly as many handler slots as requests: every take loop holds one, so no take of the
      // killed process is left waiting at the relay (under `wrangler dev` it would outlive it).
      await serve(doomed, {
        identity: `http-${queue}-doomed`,
        queue,
        mode: "hold",
        concurrency: total,
      });
      const client = await e2e.peer(`${queue}-clients`);
      await connectIdentities(client, identities);
      const burst = { job: "held", identities, perIdentity: 1, queue, timeout: DEFAULT_TIMEOUT_MS };
      await startBurst(client, burst, 30_000);

      for (let i = 0; i < 1_500 && doomed.eventsOf("held").length < total; i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      const held = doomed.eventsOf("held");
      expect(held).toHaveLength(total);
      expect(held.every((e) => e.attempt === 1)).toBe(true);
      await doomed.kill9();

      const survivor = await e2e.peer(`${queue}-survivor`);
      await serve(survivor, {
        identity: `http-${queue}-survivor`,
        queue,
        mode: "tagged",
        concurrency: total,
        name: "survivor",
      });

      const summary = await awaitBurst(client, "held", DEFAULT_TIMEOUT_MS + 15_000);
      expect(summary.samples).toEqual([]);
      expect(summary).toMatchObject({ sent: total, ok: total, errors: {} });
      expect(summary.attempts).toEqual({ "2": total });
      const stats = await serverStats(survivor);
      expect(stats.records.map((r) => r.attempt)).toEqual(Array(total).fill(2));
    },
  );
});
