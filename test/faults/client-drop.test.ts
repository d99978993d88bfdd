/**
 * Fault: a client's socket is cut mid-flight, from inside the client process (the `ws` socket is
 * terminated under the SDK, which only sees the close), and kept away for a while: its reconnects
 * dial a closed port. Replies produced meanwhile wait in the exchange's durable outbox; on
 * resume the client gets them first (before any `accepted` for its re-sent requests), and its
 * pending request() promises resolve as if nothing happened.
 */
import { describe, expect, it } from "vitest";
import {
  awaitLoad,
  connectIdentities,
  dropClientSocket,
  exactlyOnce,
  openClientSockets,
  progress,
  ranLog,
  serve,
  settledOnce,
  startLoad,
  useFaultRelay,
  waitUntil,
} from "./support/fault-fixture.js";

const QUEUE = "drop-q";
const IDENTITIES = ["drop-a", "drop-b", "drop-c"];
const PER_IDENTITY = 300;
const TOTAL = IDENTITIES.length * PER_IDENTITY;
const AWAY_MS = 1_500;

describe.each([
  // Through the exchange (route "exchange"): one client socket per identity.
  { route: "exchange", sockets: 1 },
  // Queue links (the SDK's default): the exchange's socket and the queue's link both drop.
  { route: "queue", sockets: 2 },
] as const)(
  "a client's sockets dropped mid-flight (route $route), then the client reconnects",
  ({ route, sockets }) => {
    const faults = useFaultRelay();

    it("resolves every pending request exactly once with the reply produced while the client was away, never running a request twice because of the re-send", async () => {
      const server = await faults.peer("drop-server");
      await serve(server, {
        identity: "drop-server",
        queue: QUEUE,
        concurrency: 16,
        name: "s",
        delayMs: 20,
      });
      const client = await faults.peer("drop-clients");
      await connectIdentities(client, IDENTITIES, { route });
      await startLoad(client, {
        job: "load",
        identities: IDENTITIES,
        perIdentity: PER_IDENTITY,
        window: 40,
        queue: QUEUE,
        timeout: 60_000,
      });

      for (const [round, threshold] of [100, 400].entries()) {
        await waitUntil(
          async () => (await progress(client, "load")) >= threshold,
          60_000,
          `${threshold} settled`,
        );
        // Every socket is back from the last drop (a link reconnects after its own backoff).
        await waitUntil(
          async () =>
            (await Promise.all(IDENTITIES.map((id) => openClientSockets(client, id)))).every(
              (open) => open === sockets,
            ),
          30_000,
          "sockets open",
        );
        const dropped = await Promise.all(
          IDENTITIES.map((id) => dropClientSocket(client, id, AWAY_MS)),
        );
        expect(dropped, `round ${round}`).toEqual(IDENTITIES.map(() => sockets));
        const ranBefore = server.eventsOf("ran").length;
        // The server keeps answering while the clients are away: those replies go to the outbox.
        await waitUntil(
          () => server.eventsOf("ran").length >= ranBefore + 20,
          10_000,
          "work while away",
        );
      }

      const summary = await awaitLoad(client, "load", 90_000);
      expect(summary.samples).toEqual([]);
      expect(exactlyOnce(summary)).toEqual(settledOnce(TOTAL));
      expect(summary.replied).toBe(TOTAL);
      expect(summary.replayedOnResume).toBeGreaterThan(0);
      // The server never ran a request twice: a re-send of a stored request is deduplicated.
      const ran = ranLog([server]);
      expect(ran.length).toBe(TOTAL);
      expect(new Set(ran.map((r) => r.key)).size).toBe(TOTAL);
      expect(ran.filter((r) => r.attempt !== 1)).toEqual([]);
      console.log(
        `client drop (${route}): sent=${summary.sent} replied=${summary.replied} replayedOnResume=${summary.replayedOnResume} wireRepeats=${summary.wireDuplicates} lost=${summary.lost} duplicated=${summary.duplicated} p99=${summary.p99Ms}ms`,
      );
    });
  },
);
