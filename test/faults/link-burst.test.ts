/**
 * Fault: a burst of outcomes is on its way down a client's queue link (its downlink held a while
 * by a proxy, as a slow network or a busy event loop would) when the client, which acks every
 * outcome as soon as it reads it, makes new requests. They are taken like any other: outcomes
 * the client has not read yet are no reason to refuse it. (A link once refused new requests at
 * 1,000 unacked outcomes, and the SDK settled them as failed.)
 */
import { describe, expect, it } from "vitest";
import {
  awaitLoad,
  connectIdentities,
  serve,
  startLoad,
  useFaultRelay,
  waitUntil,
} from "./support/fault-fixture.js";
import { useFreezingProxy } from "./support/freezing-proxy.js";

/** More than a link's 1,000 unacked outcomes, answered one by one. */
const BURST = 1_050;
const LATER = 20;

describe("new requests on a link while a burst of outcomes is on its way to the client", () => {
  const faults = useFaultRelay({ EDGEMQ_QUEUE_MODES: "mem-*=memory" });
  const proxy = useFreezingProxy(() => faults.relay().url);

  it.each(["burst-q", "mem-burst-q"])(
    "are taken and answered (%s)",
    async (queue) => {
      const server = await faults.peer(`server-${queue}`);
      await serve(server, { identity: `srv-${queue}`, queue, concurrency: 1, name: "s" });
      const client = await faults.peer(`client-${queue}`, proxy.url());
      await connectIdentities(client, [`acker-${queue}`], { route: "queue" });
      const load = { identities: [`acker-${queue}`], queue, timeout: 60_000 };
      await startLoad(client, { job: "warm", ...load, perIdentity: 10, window: 10 });
      expect((await awaitLoad(client, "warm", 20_000)).replied).toBe(10);

      proxy.holdDownlinks();
      await startLoad(client, { job: "burst", ...load, perIdentity: BURST, window: BURST });
      await waitUntil(() => server.eventsOf("ran").length >= 10 + BURST, 20_000, "burst ran");
      await startLoad(client, { job: "later", ...load, perIdentity: LATER, window: LATER });
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      proxy.release();

      const burst = await awaitLoad(client, "burst", 30_000);
      const later = await awaitLoad(client, "later", 30_000);
      expect(burst.replied).toBe(BURST);
      expect(later.errors).toEqual({});
      expect(later.replied).toBe(LATER);
    },
    60_000,
  );
});
