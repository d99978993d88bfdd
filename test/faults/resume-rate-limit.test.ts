/**
 * Fault: a client resumes holding more accepted requests than its rate-limit burst. The SDK
 * re-sends all of them at once (same ids); the exchange's rate limit refuses the copies past the
 * burst with `rate_limited`. Those requests are already stored by the queue, so the refusal is
 * about the copy, not the request: the SDK must keep waiting, and each promise must still
 * resolve with its own reply. (Before the SDK ignored such refusals, 20 of these 80 requests
 * rejected with `rate_limited` while the queue went on to run them.)
 */
import { describe, expect, it } from "vitest";
import {
  awaitLoad,
  clientWire,
  connectIdentities,
  dropClientSocket,
  exactlyOnce,
  ranLog,
  serve,
  settledOnce,
  startLoad,
  useFaultRelay,
  waitUntil,
} from "./support/fault-fixture.js";

const QUEUE = "resume-rl-q";
const CLIENT = "rl-client";
const PER_LOAD = 40;
/** Refill 50 tokens a second up to 60: two loads of 40, one second apart, both pass. */
const RATE = { EDGEMQ_RATE_LIMIT_PER_SECOND: "50", EDGEMQ_RATE_LIMIT_BURST: "60" };

describe("a client resuming with more accepted requests than its rate-limit burst", () => {
  const faults = useFaultRelay(RATE);

  it("resolves every accepted request with its own reply, though re-sent copies past the burst are refused rate_limited", async () => {
    const client = await faults.peer("rl-clients");
    // Through the exchange: its bucket is the one the re-sends meet (a queue link's bucket, in
    // the queue partition, is tested in test/security/rate-limit.test.ts).
    await connectIdentities(client, [CLIENT], { route: "exchange" });
    const load = {
      identities: [CLIENT],
      perIdentity: PER_LOAD,
      window: PER_LOAD,
      queue: QUEUE,
      timeout: 60_000,
    };
    await startLoad(client, { job: "first", ...load });
    await waitUntil(
      async () => (await clientWire(client)).accepted >= PER_LOAD,
      20_000,
      "first accepted",
    );
    await new Promise((r) => setTimeout(r, 1_000)); // let the bucket refill
    await startLoad(client, { job: "second", ...load });
    await waitUntil(
      async () => (await clientWire(client)).accepted >= 2 * PER_LOAD,
      20_000,
      "second accepted",
    );
    expect((await clientWire(client)).errors).toEqual({});
    await new Promise((r) => setTimeout(r, 1_500)); // full bucket: 60 tokens for 80 re-sends

    // No server yet: all 80 wait in the queue while the client drops and re-sends them.
    expect(await dropClientSocket(client, CLIENT, 0)).toBe(1);
    await waitUntil(
      async () => ((await clientWire(client)).errors.rate_limited ?? 0) > 0,
      20_000,
      "refused re-sends",
    );

    const server = await faults.peer("rl-server");
    await serve(server, { identity: "rl-server", queue: QUEUE, concurrency: 8, name: "s" });
    const first = await awaitLoad(client, "first", 30_000);
    const second = await awaitLoad(client, "second", 30_000);
    const refusedCopies = (await clientWire(client)).errors.rate_limited ?? 0;
    console.log(
      `resume past the burst: ${refusedCopies} re-sent copies refused rate_limited; replies ${first.replied + second.replied} of ${2 * PER_LOAD}`,
    );
    for (const summary of [first, second]) {
      expect(summary.errors).toEqual({});
      expect(exactlyOnce(summary)).toEqual(settledOnce(PER_LOAD));
      expect(summary.replied).toBe(PER_LOAD);
    }
    expect(refusedCopies).toBeGreaterThan(0);
    expect(ranLog([server])).toHaveLength(2 * PER_LOAD);
  });
});
