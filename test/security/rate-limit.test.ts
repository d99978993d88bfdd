/**
 * Per-identity rate limit at the exchange, and at the queue partition for requests sent on a
 * queue link (token bucket, default burst 200, 100 per second): a
 * burst beyond the bucket gets `rate_limited` for the excess requests only, another identity
 * is not held back by the noisy one, and a link's re-send of a request its queue already holds is
 * answered, never refused. Cancels take tokens too, and acks of stored outcomes have a budget of
 * their own (ackLimit), so neither can flood the shared exchange.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { DEFAULT_RATE_LIMIT } from "../../durable-objects/shared/settings.js";
import type { Frame } from "../../protocol/index.js";
import { mint, Peer, request, upgrade } from "./signed-relay.js";

const queue = "rl-empty";

function answerTo(peer: Peer, count: number): Promise<Frame[]> {
  return (async () => {
    const answers: Frame[] = [];
    while (answers.length < count) answers.push(await peer.next("error"));
    return answers;
  })();
}

describe("per-identity rate limit", () => {
  it("refuses only the requests beyond the burst, with rate_limited and a retry hint", async () => {
    const noisy = await Peer.client(
      await mint({ sub: "rl-noisy", role: "client", queues: [queue] }),
    );
    const excess = 25;
    const total = DEFAULT_RATE_LIMIT.burst + excess;
    const frames = Array.from({ length: total }, (_, i) => ({
      ...request(`r${i}`, queue),
      failFast: true,
    }));
    noisy.send(frames);
    const answers = await answerTo(noisy, total);
    const limited = answers.filter((f) => f.type === "error" && f.code === "rate_limited");
    // One message is admitted at one instant: exactly the burst passes, the rest is refused.
    expect(limited.map((f) => ("id" in f ? f.id : undefined))).toEqual(
      Array.from({ length: excess }, (_, i) => `r${DEFAULT_RATE_LIMIT.burst + i}`),
    );
    expect(limited[0]).toMatchObject({ message: expect.stringMatching(/retry after \d+ ms/) });
    const passed = answers.filter((f) => f.type === "error" && f.code === "no_responders");
    expect(passed).toHaveLength(DEFAULT_RATE_LIMIT.burst);

    const quiet = await Peer.client(
      await mint({ sub: "rl-quiet", role: "client", queues: [queue] }),
    );
    quiet.send({ ...request("q1", queue), failFast: true });
    expect(await quiet.next("error", "q1")).toMatchObject({ code: "no_responders" });
    for (const peer of [noisy, quiet]) peer.close();
  });

  it("limits requests sent on a queue link the same way, in the queue partition", async () => {
    const linkQueue = "rl-link-empty";
    const token = await mint({ sub: "rl-linker", role: "client", queues: [linkQueue] });
    const link = await Peer.open(upgrade(`/v1/queues/${linkQueue}/connect`, token));
    await link.next("welcome");
    const excess = 10;
    const total = DEFAULT_RATE_LIMIT.burst + excess;
    link.send(
      Array.from({ length: total }, (_, i) => ({ ...request(`l${i}`, linkQueue), failFast: true })),
    );
    const answers = await answerTo(link, total);
    const limited = answers.filter((f) => f.type === "error" && f.code === "rate_limited");
    expect(limited.map((f) => ("id" in f ? f.id : undefined))).toEqual(
      Array.from({ length: excess }, (_, i) => `l${DEFAULT_RATE_LIMIT.burst + i}`),
    );
    const passed = answers.filter((f) => f.type === "error" && f.code === "no_responders");
    expect(passed).toHaveLength(DEFAULT_RATE_LIMIT.burst);
    link.close();
  });

  it("answers a link's re-send of requests its queue holds with accepted, even with the bucket empty", async () => {
    const linkQueue = "rl-link-resend";
    const token = await mint({ sub: "rl-resender", role: "client", queues: [linkQueue] });
    const frames = Array.from({ length: DEFAULT_RATE_LIMIT.burst }, (_, i) =>
      request(`s${i}`, linkQueue),
    );
    const first = await Peer.open(upgrade(`/v1/queues/${linkQueue}/connect`, token));
    await first.next("welcome");
    first.send(frames);
    for (const frame of frames) await first.next("accepted", String(frame.id));
    first.close();

    // As after a reconnect: every pending request again, with no token left in the bucket.
    const again = await Peer.open(upgrade(`/v1/queues/${linkQueue}/connect`, token));
    await again.next("welcome");
    again.send([...frames, request("new-one", linkQueue)]);
    for (const frame of frames) await again.next("accepted", String(frame.id));
    expect(await again.next("error", "new-one")).toMatchObject({ code: "rate_limited" });
    again.close();
  });

  it("charges each cancel a token: cancels beyond the burst get rate_limited, marked about the cancel", async () => {
    const cancelQueue = "rl-cancels";
    const token = await mint({ sub: "rl-canceller", role: "client", queues: [cancelQueue] });
    const peer = await Peer.client(token);
    const excess = 5;
    const total = DEFAULT_RATE_LIMIT.burst + excess;
    peer.send(
      Array.from({ length: total }, (_, i) => ({
        type: "cancel",
        id: `c${i}`,
        queue: cancelQueue,
      })),
    );
    const refused = await answerTo(peer, excess);
    expect(refused.map((f) => (f.type === "error" ? [f.id, f.code, f.about] : undefined))).toEqual(
      Array.from({ length: excess }, (_, i) => [
        `c${DEFAULT_RATE_LIMIT.burst + i}`,
        "rate_limited",
        "cancel",
      ]),
    );
    peer.close();
  });

  it("applies no acks beyond an identity's ack budget: the outcome stays stored for a reconnect", async () => {
    const identity = "rl-acker";
    const exchange = env.EXCHANGE.getByName("exchange");
    const outcome = (id: string) => ({
      to: identity,
      frame: { type: "reply" as const, id, body: { enc: "utf8" as const, data: id } },
    });
    await exchange.deliver([outcome("kept")]);
    const peer = await Peer.client(await mint({ sub: identity, role: "client", queues: ["q"] }));
    await peer.next("reply", "kept");
    // The whole budget in acks of ids never delivered, then a full frame with the real one in it.
    const budget = DEFAULT_RATE_LIMIT.burst * 100;
    const junk = (n: number) => Array.from({ length: 10_000 }, (_, i) => `junk-${n}-${i}`);
    for (let n = 0; n < budget / 10_000; n++) peer.send({ type: "ack", ids: junk(n) });
    peer.send({ type: "ack", ids: [...junk(-1).slice(1), "kept"] });
    peer.send({ type: "barrier" });
    await peer.next("error");
    await exchange.deliver([outcome("later")]); // applies the deferred acks before it stores
    const stored = await runInDurableObject(exchange, (_instance, state) =>
      state.storage.sql
        .exec("SELECT id FROM outbox WHERE identity = ? ORDER BY id", identity)
        .toArray()
        .map((row) => row.id),
    );
    expect(stored).toEqual(["kept", "later"]);
    peer.close();
  });
});
