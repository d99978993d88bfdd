/**
 * Fault: the relay process (wrangler and workerd) is killed with SIGKILL under load and started
 * again on the same port and state. Clients and servers reconnect on their own (full-jitter
 * backoff); clients re-send their unfinished requests with the same ids (the queue deduplicates
 * them); replies produced before the kill wait in SQLite (queue outcomes, exchange outbox).
 * A serial client is killed under too: its partition is quiet, so its requests are dispatched
 * before they are written and share held writes (held-writes.ts), held most of the time. And
 * handlers that run across the kill answer their requests after the restart: the server claims
 * their leases again (ready {holding}), so none of them runs twice; and when that server does not
 * come back, another one gets its requests after a short grace, well within their deadlines.
 */
import { describe, expect, it } from "vitest";
import {
  awaitLoad,
  connectIdentities,
  exactlyOnce,
  type FaultFixture,
  killAndSettle,
  ranLog,
  serve,
  settledOnce,
  startLoad,
  useFaultRelay,
  waitUntil,
} from "./support/fault-fixture.js";

const QUEUE = "relay-kill-q";
const IDENTITIES = Array.from({ length: 6 }, (_, i) => `rk-client-${i}`);
const PER_IDENTITY = 200;
const TOTAL = IDENTITIES.length * PER_IDENTITY;

describe("the relay killed with SIGKILL under load and restarted", () => {
  const faults = useFaultRelay();

  it("settles every request exactly once for its client after the restart, losing and duplicating none", async () => {
    const servers = await Promise.all([faults.peer("rk-server-0"), faults.peer("rk-server-1")]);
    await Promise.all(
      servers.map((s, i) =>
        serve(s, {
          identity: `rk-server-${i}`,
          queue: QUEUE,
          concurrency: 16,
          name: `s${i}`,
          delayMs: 10,
        }),
      ),
    );
    const client = await faults.peer("rk-clients");
    await connectIdentities(client, IDENTITIES);
    await startLoad(client, {
      job: "load",
      identities: IDENTITIES,
      perIdentity: PER_IDENTITY,
      window: 30,
      queue: QUEUE,
      timeout: 120_000,
    });

    const job = { name: "load", total: TOTAL, killAt: 300 };
    const { summary, settledAtKill } = await killAndSettle(faults, { client, servers }, job);
    console.log(
      `relay SIGKILL: sent=${summary.sent} replied=${summary.replied} settledAtKill=${settledAtKill} errors=${JSON.stringify(summary.errors)} lost=${summary.lost} duplicated=${summary.duplicated} wireRepeats=${summary.wireDuplicates} p99=${summary.p99Ms}ms`,
    );
  });

  it("settles a serial client's requests (quiet partition, writes held) exactly once after the kill", async () => {
    const queue = "relay-kill-serial-q";
    const identity = "rk-serial";
    const total = 400;
    const server = await faults.peer("rk-serial-server");
    await serve(server, { identity: "rk-serial-server", queue, concurrency: 4, name: "s" });
    const client = await faults.peer("rk-serial-client");
    await connectIdentities(client, [identity]);
    // One request in flight: the durable partition is quiet whenever a request arrives.
    const load = { job: "serial", identities: [identity], perIdentity: total, window: 1, queue };
    await startLoad(client, { ...load, timeout: 120_000 });

    const job = { name: "serial", total, killAt: 100 };
    const peers = { client, servers: [server] };
    const { summary, settledAtKill } = await killAndSettle(faults, peers, job);
    console.log(
      `relay SIGKILL, serial client: replied=${summary.replied} settledAtKill=${settledAtKill} lost=${summary.lost} duplicated=${summary.duplicated} wireRepeats=${summary.wireDuplicates}`,
    );
  });

  it("lets handlers running across the kill answer after the restart, running none of them twice", async () => {
    const total = 12;
    // Each handler outlasts the kill and most of the restart.
    const { server, client } = await handlersRunning(faults, "held", total, 4_000, 120_000);
    const relay = faults.relay();
    await relay.kill9();
    await relay.restart();

    const summary = await awaitLoad(client, "held", 120_000);
    expect(exactlyOnce(summary)).toEqual(settledOnce(total));
    expect(summary.replied).toBe(total);
    const runs = ranLog([server]);
    expect(runs.length).toBe(total);
    expect(runs.every((run) => run.attempt === 1)).toBe(true);
  });

  it("gives another server the requests of a server that does not come back after the kill, within their deadlines", async () => {
    const total = 8;
    // Its handlers never finish before it is killed with the relay. The deadline is the default,
    // as long as the default lease: only a short grace leaves time to run them again.
    const { server, client, queue } = await handlersRunning(faults, "gone", total, 120_000, 30_000);
    const relay = faults.relay();
    await relay.kill9();
    await server.kill9();
    await relay.restart();
    const other = await faults.peer("rk-other-server");
    await serve(other, { identity: "rk-other-server", queue, concurrency: total, name: "other" });

    const summary = await awaitLoad(client, "gone", 60_000);
    expect(exactlyOnce(summary)).toEqual(settledOnce(total));
    expect(summary.replied).toBe(total);
    expect(ranLog([other]).map((run) => run.attempt)).toEqual(Array(total).fill(2));
  });
});

/**
 * One server (`rk-<name>-server`, handlers of `delayMs`) running all `total` requests of one client
 * (`rk-<name>-client`, load job `name`, each with `timeout`), their dispatches committed.
 */
async function handlersRunning(
  faults: FaultFixture,
  name: string,
  total: number,
  delayMs: number,
  timeout: number,
) {
  const queue = `relay-kill-${name}-q`;
  const server = await faults.peer(`rk-${name}-server`);
  const serving = { identity: `rk-${name}-server`, queue, concurrency: total, name };
  await serve(server, { ...serving, delayMs });
  const client = await faults.peer(`rk-${name}-client`);
  const identities = [`rk-${name}-client`];
  await connectIdentities(client, identities);
  const load = { job: name, identities, perIdentity: total, window: total, queue };
  await startLoad(client, { ...load, timeout });
  await waitUntil(() => ranLog([server]).length === total, 30_000, `${total} running handlers`);
  // Let the last dispatches' writes commit (held-writes.ts holds a quiet partition's for 4 ms).
  await new Promise((resolve) => setTimeout(resolve, 200));
  return { server, client, queue };
}
