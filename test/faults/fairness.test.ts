/**
 * Fairness under a backlog: one client has 5,000 requests queued when another sends 20. The queue
 * takes requests round-robin across client identities, so the small client's 20 replies all
 * arrive before the big client's 1,000th. Order is measured by one arrival counter shared by both
 * clients (they live in the same process), never by times.
 */
import { describe, expect, it } from "vitest";
import {
  awaitLoad,
  connectIdentities,
  exactlyOnce,
  progress,
  serve,
  startLoad,
  useFaultRelay,
  waitUntil,
} from "./support/fault-fixture.js";

const QUEUE = "fair-q";
const BIG = 5_000;
const SMALL = 20;

describe("fairness: a client with 5,000 queued requests and another with 20", () => {
  const faults = useFaultRelay();

  it("finishes all 20 of the small client's requests before the big client's 1,000th reply", async () => {
    const server = await faults.peer("fair-server");
    await serve(server, {
      identity: "fair-server",
      queue: QUEUE,
      concurrency: 4,
      name: "s",
      delayMs: 2,
    });
    const clients = await faults.peer("fair-clients");
    await connectIdentities(clients, ["big", "small"]);
    await startLoad(clients, {
      job: "big",
      identities: ["big"],
      perIdentity: BIG,
      window: BIG,
      queue: QUEUE,
      timeout: 120_000,
      keepOrder: true,
    });
    // The backlog is queued and being served before the small client asks.
    await waitUntil(async () => (await progress(clients, "big")) >= 50, 60_000, "50 big replies");
    await startLoad(clients, {
      job: "small",
      identities: ["small"],
      perIdentity: SMALL,
      window: SMALL,
      queue: QUEUE,
      timeout: 120_000,
      keepOrder: true,
    });

    const small = await awaitLoad(clients, "small", 60_000);
    const big = await awaitLoad(clients, "big", 150_000);
    expect(exactlyOnce(small)).toEqual({
      sent: SMALL,
      settled: SMALL,
      lost: 0,
      duplicated: 0,
      untyped: 0,
      wrongPayload: 0,
      misrouted: 0,
    });
    expect(exactlyOnce(big)).toEqual({
      sent: BIG,
      settled: BIG,
      lost: 0,
      duplicated: 0,
      untyped: 0,
      wrongPayload: 0,
      misrouted: 0,
    });
    expect(small.replied + big.replied).toBe(BIG + SMALL);

    const smallOrder = small.arrivals.small ?? [];
    const bigOrder = big.arrivals.big ?? [];
    expect(smallOrder).toHaveLength(SMALL);
    const lastSmall = Math.max(...smallOrder);
    const bigThousandth = bigOrder[999] ?? Number.POSITIVE_INFINITY;
    const bigBeforeLastSmall = bigOrder.filter((n) => n < lastSmall).length;
    console.log(
      `fairness: small client's last reply arrived after ${bigBeforeLastSmall} of the big client's replies (must be < 1000)`,
    );
    expect(lastSmall).toBeLessThan(bigThousandth);
  });
});
