/**
 * Soak: 20 clients and 4 servers (each server its own process), 10,000 requests, and every
 * 200 ms a random server is killed with SIGKILL and started again (a new process, same identity).
 * Requests a killed server held are redelivered; past maxAttempts (3) dispatches the client gets
 * a typed `server_error`. Servers re-running requests is expected; what clients see must be
 * exactly once: each request settles once, with its own reply or a typed error, none lost.
 * Prints one line: sent, replied, typed errors, lost, duplicated, p99 latency.
 */
import { describe, expect, it } from "vitest";
import type { PeerProcess } from "../e2e/support/peer.js";
import {
  awaitLoad,
  connectIdentities,
  exactlyOnce,
  type FaultFixture,
  ranLog,
  serve,
  settledOnce,
  startLoad,
  useFaultRelay,
} from "./support/fault-fixture.js";

const QUEUE = "soak-q";
const CLIENTS = Array.from({ length: 20 }, (_, i) => `soak-client-${i}`);
const PER_CLIENT = 500;
const TOTAL = CLIENTS.length * PER_CLIENT;
const SERVERS = 4;
const KILL_EVERY_MS = 200;
/** Bound on the kill loop (ticks of 200 ms), whatever happens to the load. */
const MAX_TICKS = 1_000;

async function startServer(faults: FaultFixture, slot: number, life: number): Promise<PeerProcess> {
  const p = await faults.peer(`soak-server-${slot}-${life}`);
  await serve(p, {
    identity: `soak-server-${slot}`,
    queue: QUEUE,
    concurrency: 32,
    name: `s${slot}`,
  });
  return p;
}

describe("soak: 10,000 requests while a random server is killed and restarted every 200 ms", () => {
  const faults = useFaultRelay();

  it("settles every request exactly once for its client (reply or typed error), losing and duplicating none", async () => {
    const slots = await Promise.all(
      Array.from({ length: SERVERS }, (_, i) => startServer(faults, i, 0)),
    );
    const everyServer: PeerProcess[] = [...slots];
    const client = await faults.peer("soak-clients");
    await connectIdentities(client, CLIENTS);
    await startLoad(client, {
      job: "soak",
      identities: CLIENTS,
      perIdentity: PER_CLIENT,
      window: 25,
      queue: QUEUE,
      timeout: 60_000,
    });
    const loaded = awaitLoad(client, "soak", 150_000);

    let running = true;
    let kills = 0;
    const restarting = new Set<number>();
    const restarts: Promise<void>[] = [];
    const chaos = (async () => {
      for (let tick = 0; running && tick < MAX_TICKS; tick++) {
        await new Promise((r) => setTimeout(r, KILL_EVERY_MS));
        // A random server among those not already being restarted.
        const idle = slots.flatMap((_server, slot) => (restarting.has(slot) ? [] : [slot]));
        const slot = idle[Math.floor(Math.random() * idle.length)];
        const victim = slot === undefined ? undefined : slots[slot];
        if (!running || slot === undefined || victim === undefined) continue;
        restarting.add(slot);
        kills++;
        const restart = (async () => {
          await victim.kill9();
          const next = await startServer(faults, slot, kills);
          everyServer.push(next);
          slots[slot] = next;
          restarting.delete(slot);
        })().catch((error: unknown) => {
          console.error(`restart of slot ${slot} failed: ${String(error)}`);
          restarting.delete(slot);
        });
        restarts.push(restart);
      }
    })();

    const summary = await loaded;
    running = false;
    await chaos;
    // A restart still starting when the load ended finishes before teardown stops the peers.
    await Promise.all(restarts);

    const typed = Object.values(summary.errors).reduce((a, b) => a + b, 0);
    const reruns = ranLog(everyServer).filter((r) => r.attempt >= 2).length;
    console.log(
      `soak: sent=${summary.sent} replied=${summary.replied} typed_errors=${typed} ${JSON.stringify(summary.errors)} lost=${summary.lost} duplicated=${summary.duplicated} p99=${summary.p99Ms}ms (p50=${summary.p50Ms}ms, server kills=${kills}, server re-runs=${reruns})`,
    );
    expect(exactlyOnce(summary)).toEqual(settledOnce(TOTAL));
    expect(Object.keys(summary.errors).filter((code) => code !== "server_error")).toEqual([]);
    expect(kills).toBeGreaterThan(10);
  });
});
