/**
 * Fault: a peer's sockets go half-open (test/faults/support/freezing-proxy.ts): no bytes move
 * either way and neither side sees a close, as when a NAT or a flaky link drops a flow. Nothing
 * tells the relay or the SDK; only the SDK's heartbeat can. A client socket with unanswered
 * requests, and every server socket, pings every 5 s and calls the socket dead after 10 s of
 * silence, so the peer reconnects within the default lease and deadline and the work finishes on
 * the new socket, once. At the idle pace (15 s, dead after 30-45 s) each of these requests would
 * miss its 25 s deadline.
 */
import { describe, expect, it } from "vitest";
import {
  awaitLoad,
  connectIdentities,
  exactlyOnce,
  ranLog,
  serve,
  settledOnce,
  startLoad,
  useFaultRelay,
} from "./support/fault-fixture.js";
import { useFreezingProxy } from "./support/freezing-proxy.js";

/** Below the 30 s an idle-paced heartbeat needs at least; above the 10-15 s a busy one needs. */
const DEADLINE_MS = 25_000;

describe("sockets that go half-open with work on them", () => {
  const faults = useFaultRelay();

  describe("a server's socket, while its handler runs", () => {
    const proxy = useFreezingProxy(() => faults.relay().url);

    it("is found dead in time; the server reconnects, claims the request and its answer reaches the client, run once", async () => {
      const server = await faults.peer("half-open-server", proxy.url());
      await serve(server, {
        identity: "half-open-server",
        queue: "half-open-server-q",
        concurrency: 1,
        name: "frozen",
        // The answer is written into the dead socket, then must be claimed and sent again.
        delayMs: 2_000,
      });
      const client = await faults.peer("half-open-server-client");
      await connectIdentities(client, ["direct-client"]);
      await startLoad(client, {
        job: "one",
        identities: ["direct-client"],
        perIdentity: 1,
        window: 1,
        queue: "half-open-server-q",
        timeout: DEADLINE_MS,
      });
      await server.waitForEvent((e) => e.event === "ran", 20_000);
      expect(proxy.freeze()).toBeGreaterThan(0);

      const summary = await awaitLoad(client, "one", DEADLINE_MS + 10_000);
      expect(exactlyOnce(summary)).toEqual(settledOnce(1));
      expect(summary.errors).toEqual({});
      expect(summary.replies).toEqual({ "frozen@1": 1 });
      expect(ranLog([server])).toHaveLength(1);
    });
  });

  describe("an idle server's socket, before a request is dispatched into it", () => {
    const proxy = useFreezingProxy(() => faults.relay().url);

    it("is found dead in time; the lease it took is returned on the new socket and the request runs there", async () => {
      const server = await faults.peer("half-open-idle-server", proxy.url());
      await serve(server, {
        identity: "half-open-idle-server",
        queue: "half-open-idle-q",
        concurrency: 1,
        name: "idle",
      });
      const client = await faults.peer("half-open-idle-client");
      await connectIdentities(client, ["idle-client"]);
      // One request answered first: the relay has the server's `ready`, it is idle again.
      const load = {
        identities: ["idle-client"],
        perIdentity: 1,
        window: 1,
        queue: "half-open-idle-q",
        timeout: DEADLINE_MS,
      };
      await startLoad(client, { job: "warm", ...load });
      expect((await awaitLoad(client, "warm", 20_000)).replies).toEqual({ "idle@1": 1 });
      expect(proxy.freeze()).toBeGreaterThan(0);
      await startLoad(client, { job: "one", ...load });

      const summary = await awaitLoad(client, "one", DEADLINE_MS + 10_000);
      expect(exactlyOnce(summary)).toEqual(settledOnce(1));
      expect(summary.errors).toEqual({});
      // The first dispatch went into the dead socket and never reached the server.
      expect(summary.replies).toEqual({ "idle@2": 1 });
      expect(ranLog([server])).toHaveLength(2);
    });
  });

  describe("a client's sockets, while its request waits for the reply", () => {
    const proxy = useFreezingProxy(() => faults.relay().url);

    it("are found dead in time; the client reconnects, asks again and gets the reply it missed, run once", async () => {
      const server = await faults.peer("half-open-client-server");
      await serve(server, {
        identity: "direct-server",
        queue: "half-open-client-q",
        concurrency: 1,
        name: "direct",
        delayMs: 1_000,
      });
      const client = await faults.peer("half-open-client", proxy.url());
      await connectIdentities(client, ["frozen-client"]);
      await startLoad(client, {
        job: "one",
        identities: ["frozen-client"],
        perIdentity: 1,
        window: 1,
        queue: "half-open-client-q",
        timeout: DEADLINE_MS,
      });
      await server.waitForEvent((e) => e.event === "ran", 20_000);
      // The link and /v1/connect both go half-open before the reply is sent.
      expect(proxy.freeze()).toBe(2);

      const summary = await awaitLoad(client, "one", DEADLINE_MS + 10_000);
      expect(exactlyOnce(summary)).toEqual(settledOnce(1));
      expect(summary.errors).toEqual({});
      expect(summary.replies).toEqual({ "direct@1": 1 });
      expect(ranLog([server])).toHaveLength(1);
    });
  });
});
