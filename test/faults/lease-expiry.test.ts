/**
 * Fault: a server stops (SIGSTOP) while holding a request, past its lease (EDGEMQ_LEASE_MS=1500
 * on this relay; the SDK's extend timer is frozen with the process). The lease runs out, the
 * request goes back to the queue and another server answers it (attempt 2). When the stopped
 * server continues (SIGCONT) and sends its late reply, the relay refuses it; the client only ever
 * sees the redelivered reply. And the other side: a handler that runs longer than a lease is not
 * redelivered, because the SDK renews its lease (`extend`) every half lease while it runs.
 */
import { describe, expect, it } from "vitest";
import {
  awaitLoad,
  connectIdentities,
  exactlyOnce,
  refusedAnswers,
  serve,
  settledOnce,
  startLoad,
  useFaultRelay,
  waitUntil,
} from "./support/fault-fixture.js";

const QUEUE = "lease-q";

describe("a server that stops reading until its lease runs out, then continues", () => {
  const faults = useFaultRelay({ EDGEMQ_LEASE_MS: "1500" });

  it("refuses the stopped server's late reply and gives the client the redelivered one, once", async () => {
    const stopped = await faults.peer("stopped-server");
    await serve(stopped, {
      identity: "stopped",
      queue: QUEUE,
      concurrency: 1,
      name: "stopped",
      // Still running when SIGSTOP comes (seconds of slack for the `ran` event to travel), and
      // done soon after SIGCONT, so its late reply reaches the relay within the wait below.
      delayMs: 2_500,
    });
    const client = await faults.peer("lease-client");
    await connectIdentities(client, ["lease-client"]);
    await startLoad(client, {
      job: "one",
      identities: ["lease-client"],
      perIdentity: 1,
      window: 1,
      queue: QUEUE,
      timeout: 60_000,
    });
    await stopped.waitForEvent((e) => e.event === "ran", 20_000);
    expect(stopped.signal("SIGSTOP")).toBe(true);

    const rescuer = await faults.peer("rescuer-server");
    await serve(rescuer, { identity: "rescuer", queue: QUEUE, concurrency: 1, name: "rescuer" });
    const summary = await awaitLoad(client, "one", 30_000);
    expect(exactlyOnce(summary)).toEqual(settledOnce(1));
    expect(summary.replies).toEqual({ "rescuer@2": 1 });

    expect(stopped.signal("SIGCONT")).toBe(true);
    // The late reply (and its late extend) reach the relay and are refused.
    await waitUntil(
      async () => Object.keys(await refusedAnswers(stopped)).length > 0,
      20_000,
      "a refusal",
    );
    const refused = await refusedAnswers(stopped);
    expect(
      Object.keys(refused).every((code) => ["forbidden", "conflict", "expired"].includes(code)),
    ).toBe(true);
    // Nothing more reached the client: still one settlement, no second outcome on its wire.
    const after = await awaitLoad(client, "one", 1_000);
    expect(after.duplicated).toBe(0);
    expect(after.wireDuplicates).toBe(0);
    expect(after.replies).toEqual({ "rescuer@2": 1 });
  });
  it("keeps the lease of a handler that runs longer than the lease alive with extend, so it runs once and is not redelivered", async () => {
    const slow = await faults.peer("slow-server");
    await serve(slow, {
      identity: "slow",
      queue: "slow-q",
      concurrency: 2,
      name: "slow",
      delayMs: 4_000,
    });
    const spare = await faults.peer("spare-server");
    await serve(spare, { identity: "spare", queue: "slow-q", concurrency: 2, name: "spare" });
    const client = await faults.peer("slow-client");
    await connectIdentities(client, ["slow-client"]);
    // The least recently used server gets each request in turn: both servers get some.
    await startLoad(client, {
      job: "slow",
      identities: ["slow-client"],
      perIdentity: 4,
      window: 4,
      queue: "slow-q",
      timeout: 60_000,
    });
    const summary = await awaitLoad(client, "slow", 40_000);
    expect(exactlyOnce(summary)).toEqual(settledOnce(4));
    expect(summary.replied).toBe(4);
    // The slow server held its requests for over two leases; none was redelivered.
    expect(slow.eventsOf("ran").length).toBeGreaterThan(0);
    expect(summary.replies["slow@1"]).toBe(slow.eventsOf("ran").length);
    expect([...slow.eventsOf("ran"), ...spare.eventsOf("ran")].every((e) => e.attempt === 1)).toBe(
      true,
    );
    expect(await refusedAnswers(slow)).toEqual({});
  });
});
