/**
 * Fault: a client (route "exchange") with 3,000 requests stored loses its socket before any is
 * answered; a server answers them all while it is away, so their ~8 KB replies wait in the
 * exchange's outbox (for a memory-mode queue, in memory up to its budget, then in SQLite). When
 * the client comes back, the exchange replays the outbox in pages (1,000 outcomes or 8 MiB, the
 * next once the client's unacked ones are down to half a page) while the SDK acks what each
 * message brings: every reply arrives, exactly once, and each request ran once. A replay that
 * stalls after a page fails here.
 */
import { describe, expect, it } from "vitest";
import {
  awaitLoad,
  clientWire,
  connectIdentities,
  dropClientSocket,
  exactlyOnce,
  ranLog,
  serve,
  settledOnce,
  startLoad,
  useFaultRelay,
  waitUntil,
} from "./support/fault-fixture.js";

const TOTAL = 3_000;

describe("replies produced while a client is away reach it when it returns, in pages", () => {
  const faults = useFaultRelay({ EDGEMQ_QUEUE_MODES: "mem-*=memory" });

  it.each(["replay-q", "mem-replay-q"])(
    "delivers all 3,000 replies once (%s)",
    async (queue) => {
      const identity = `away-${queue}`;
      const client = await faults.peer(`client-${queue}`);
      await connectIdentities(client, [identity], { route: "exchange" });
      const load = { identities: [identity], perIdentity: TOTAL, window: TOTAL, queue };
      await startLoad(client, { job: "load", ...load, timeout: 170_000, padBytes: 8_000 });
      // Every request stored (no server yet), then the client goes away.
      await waitUntil(async () => (await clientWire(client)).accepted >= TOTAL, 60_000, "accepted");
      await dropClientSocket(client, identity, 600_000);

      const server = await faults.peer(`server-${queue}`);
      await serve(server, { identity: `srv-${queue}`, queue, concurrency: 64, name: "s" });
      await waitUntil(() => server.eventsOf("ran").length >= TOTAL, 90_000, "all ran");
      // The last answers reach the outbox; then the client is let back in.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      await dropClientSocket(client, identity, 0);

      const summary = await awaitLoad(client, "load", 30_000);
      expect(summary.samples).toEqual([]);
      expect(exactlyOnce(summary)).toEqual(settledOnce(TOTAL));
      expect(summary.replied).toBe(TOTAL);
      const ran = ranLog([server]);
      expect(ran).toHaveLength(TOTAL);
      expect(new Set(ran.map((r) => r.key)).size).toBe(TOTAL);
    },
    180_000,
  );
});
