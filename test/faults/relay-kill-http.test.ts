/**
 * Fault: a relay in the default (durable) delivery mode killed with SIGKILL while HTTP peers use
 * it, and started again on the same port and state. HTTP clients (one outcome poll each) and an
 * HTTP server reach it again on their own; each request settles exactly once with its reply. A
 * take whose answer the kill cut off leaves a lease held for the server that never saw the
 * request: after the restart it returns to the queue within a short grace, not after the whole
 * lease, which outlasts a request with a shorter deadline (it then ended in `timeout`, never run).
 */
import { describe, expect, it } from "vitest";
import {
  awaitLoad,
  connectIdentities,
  exactlyOnce,
  killAndSettle,
  serve,
  settledOnce,
  startLoad,
  useFaultRelay,
} from "./support/fault-fixture.js";

describe("a durable relay killed with SIGKILL under HTTP peers and restarted", () => {
  const faults = useFaultRelay();

  it("settles every request of HTTP clients served by an HTTP server exactly once with its reply", async () => {
    const queue = "rkh-q";
    const server = await faults.peer("rkh-server");
    await connectIdentities(server, ["rkh-server"], { transport: "http" });
    await serve(server, { identity: "rkh-server", queue, concurrency: 16, name: "s", delayMs: 10 });
    const identities = [0, 1, 2].map((i) => `rkh-client-${i}`);
    const client = await faults.peer("rkh-clients");
    await connectIdentities(client, identities, { transport: "http" });
    const load = { job: "load", identities, perIdentity: 100, window: 10, queue };
    await startLoad(client, { ...load, timeout: 60_000 });
    const job = { name: "load", total: 300, killAt: 60 };
    const peers = { client, servers: [server] };
    const { summary, settledAtKill } = await killAndSettle(faults, peers, job);
    console.log(
      `relay SIGKILL, HTTP peers: settledAtKill=${settledAtKill} replied=${summary.replied} replies=${JSON.stringify(summary.replies)} p99=${summary.p99Ms}ms`,
    );
  });

  it("gives the server a request whose take's answer the kill cut off soon after the restart, within its deadline", async () => {
    const queue = "rkh-lost-q";
    const identity = "rkh-lost-server";
    const server = await faults.peer(identity);
    await connectIdentities(server, [identity], { transport: "http" });
    const client = await faults.peer("rkh-lost-client");
    await connectIdentities(client, ["rkh-lost-client"], { transport: "http" });
    // Its deadline (25 s) comes before the end of a whole lease (30 s).
    const load = { job: "lost", identities: ["rkh-lost-client"], perIdentity: 1, window: 1, queue };
    await startLoad(client, { ...load, timeout: 25_000 });
    // Taken as the server's identity, as by a take of its service whose answer never reached it:
    // the relay holds the lease for that server, which never saw the request.
    const relay = faults.relay();
    const taken = await fetch(`http://127.0.0.1:${relay.port}/v1/queues/${queue}/take?wait=10000`, {
      method: "POST",
      headers: { "EdgeMQ-Identity": identity },
    });
    expect(taken.status).toBe(200);
    expect(taken.headers.get("EdgeMQ-Attempt")).toBe("1");
    await taken.arrayBuffer();
    await serve(server, { identity, queue, concurrency: 4, name: "lost" });
    await relay.kill9();
    await relay.restart();

    const summary = await awaitLoad(client, "lost", 40_000);
    expect(summary.samples).toEqual([]);
    expect(exactlyOnce(summary)).toEqual(settledOnce(1));
    expect(summary.replies).toEqual({ "lost@2": 1 });
  });
});
