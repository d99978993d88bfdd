/**
 * E2E server loss: a server process holds 50 requests without answering and is killed with
 * SIGKILL; another server then connects and serves them, and every client gets its reply. The
 * surviving server sees each of them as a redelivery (attempt >= 2).
 *
 * The relay runs with a 15 s lease: the socket close of the killed process should return its
 * requests at once; if the close went unnoticed, the ran-out lease would still return them
 * (both are failure rules of the design), well within the clients' 90 s timeout.
 */
import { describe, expect, it } from "vitest";
import {
  awaitBurst,
  connectIdentities,
  serve,
  serverStats,
  startBurst,
} from "./support/commands.js";
import { useRelay } from "./support/fixture.js";

const QUEUE = "crash-q";
const IDENTITIES = Array.from({ length: 5 }, (_, i) => `crash-client-${i}`);
const PER_IDENTITY = 10;
const TOTAL = IDENTITIES.length * PER_IDENTITY;

describe("server killed while holding requests", () => {
  const e2e = useRelay({ vars: { EDGEMQ_LEASE_MS: "15000" } });

  it("serves the requests a SIGKILLed server held on another server, as attempt 2 or later", async () => {
    const doomed = await e2e.peer("doomed-server");
    await serve(doomed, { identity: "doomed", queue: QUEUE, mode: "hold", concurrency: TOTAL });
    const client = await e2e.peer("crash-clients");
    await connectIdentities(client, IDENTITIES);
    await startBurst(
      client,
      {
        job: "held",
        identities: IDENTITIES,
        perIdentity: PER_IDENTITY,
        queue: QUEUE,
        timeout: 90_000,
      },
      30_000,
    );

    // Wait until the doomed server holds every request, then kill it mid-work.
    const until = Date.now() + 30_000;
    for (
      let i = 0;
      i < 1_500 && Date.now() < until && doomed.eventsOf("held").length < TOTAL;
      i++
    ) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const held = doomed.eventsOf("held");
    expect(held).toHaveLength(TOTAL);
    expect(held.every((e) => e.attempt === 1)).toBe(true);
    await doomed.kill9();

    const survivor = await e2e.peer("survivor-server");
    await serve(survivor, {
      identity: "survivor",
      queue: QUEUE,
      mode: "tagged",
      concurrency: 16,
      name: "survivor",
    });

    const summary = await awaitBurst(client, "held", 100_000);
    expect(summary.samples).toEqual([]);
    expect(summary).toMatchObject({
      sent: TOTAL,
      ok: TOTAL,
      misrouted: 0,
      wrongPayload: 0,
      errors: {},
    });

    const stats = await serverStats(survivor);
    expect(stats.handled).toBe(TOTAL);
    expect(stats.records.filter((r) => r.attempt < 2)).toEqual([]);
    const heldKeys = new Set(held.map((e) => `${String(e.from)}/${String(e.key)}`));
    expect(new Set(stats.records.map((r) => `${r.from}/${r.key}`))).toEqual(heldKeys);
  });
});
