/**
 * Fault: a relay whose queue is in `memory` mode killed with SIGKILL under load and restarted. A
 * memory queue forgets its requests, so they survive only because their clients are still there
 * and send them again: WebSocket clients re-send after they reconnect, HTTP clients post again
 * after a poll that had to be retried (http-requester.ts). Each settles exactly once with its
 * reply; a server may run a request twice (once before the kill, once after).
 */
import { describe, it } from "vitest";
import {
  connectIdentities,
  killAndSettle,
  serve,
  startLoad,
  useFaultRelay,
} from "./support/fault-fixture.js";

describe("a memory-mode relay killed with SIGKILL under load and restarted", () => {
  const faults = useFaultRelay({ EDGEMQ_QUEUE_MODES: "rkm-*=memory" });

  it.each(["websocket", "http"] as const)(
    "settles every request of %s clients exactly once with its reply, the lost ones sent again",
    async (transport) => {
      const queue = `rkm-${transport}`; // its own queue: the other case's server stays connected
      const servers = await Promise.all([faults.peer(`rkm-s0-${transport}`)]);
      const [server] = servers;
      if (server === undefined) throw new Error("no server");
      await serve(server, {
        identity: `rkm-server-${transport}`,
        queue,
        concurrency: 16,
        name: `s-${transport}`,
        delayMs: 10,
      });
      const identities = [0, 1, 2].map((i) => `rkm-${transport}-${i}`);
      const client = await faults.peer(`rkm-clients-${transport}`);
      await connectIdentities(client, identities, { transport });
      const load = { job: transport, identities, perIdentity: 100, window: 10, queue };
      await startLoad(client, { ...load, timeout: 120_000 });
      const job = { name: transport, total: 300, killAt: 60 };
      await killAndSettle(faults, { client, servers }, job);
    },
  );
});
