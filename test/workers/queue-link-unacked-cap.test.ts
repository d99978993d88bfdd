/**
 * A queue link holds at most 1,000 outcomes its client has not acked (MAX_UNACKED_PER_LINK),
 * and at most 32 Mi characters of them (MAX_UNACKED_CHARS_PER_LINK): the outcome of a link
 * request past either comes through the exchange's `/v1/connect` socket instead (docs/protocol.md, queue links; docs/guarantees.md, flow control). The client sends
 * 1,000 requests on its link, the server answers them all, the client acks none; the answer to
 * its next request must reach `/v1/connect` and not the link. The queue's rate limit (a burst of
 * 200) is lifted for the client, so the test needs no 10 s of refill.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { MAX_UNACKED_CHARS_PER_LINK } from "../../durable-objects/queue/link-registry.js";
import type { RateLimiter } from "../../durable-objects/shared/token-bucket.js";
import { encodeBody } from "../../protocol/index.js";
import { idOf, linkSocket, TestSocket, typesBeforeBarrier } from "./exchange-test-socket.js";
import { request, sleep, TestServer } from "./queue-test-server.js";

const CAP = 1_000;
const BATCH = 250;
/** Bound on the wait for the last outcome: generous for a loaded machine, still finite. */
const WAIT_MS = 10_000;

/** Whether `socket` received a `reply` frame for request `id`, in any message. */
function gotReply(socket: TestSocket, id: string): boolean {
  return socket.messages.some((text) => {
    const parsed: unknown = JSON.parse(text);
    return (Array.isArray(parsed) ? parsed : [parsed]).some(
      (f) => idOf(f) === id && (f as { type?: unknown }).type === "reply",
    );
  });
}

/** Waits (bounded) until one of `sockets` has the reply for `id`; the names of those that do. */
async function carriers(sockets: Record<string, TestSocket>, id: string): Promise<string[]> {
  const until = Date.now() + WAIT_MS;
  for (;;) {
    const found = Object.entries(sockets).filter(([, socket]) => gotReply(socket, id));
    if (found.length > 0 || Date.now() >= until) return found.map(([name]) => name);
    await sleep(10);
  }
}

describe("queue links: unacked outcomes", { timeout: 60_000 }, () => {
  it("sends the outcome past 1,000 unacked on a link through /v1/connect instead", async () => {
    const q = "lnk-unacked-cap";
    const identity = "lnk-unacked-ann";
    const worker = await TestServer.connect(q, "lnk-unacked-worker", CAP);
    const { socket: exchange } = await TestSocket.client(identity);
    const link = await linkSocket(q, identity);
    await runInDurableObject(env.QUEUE.getByName(q), (instance) => {
      const { rateLimiter } = (instance as unknown as { state: { rateLimiter: RateLimiter } })
        .state;
      const take = rateLimiter.take.bind(rateLimiter);
      rateLimiter.take = (key, count) => (key === identity ? { ok: true } : take(key, count));
    });

    for (let start = 0; start < CAP; start += BATCH) {
      link.send(Array.from({ length: BATCH }, (_, i) => request(`r${start + i}`, q)));
    }
    const dispatches: { id: string }[] = [];
    for (let i = 0; i < CAP; i++) dispatches.push(await worker.next("dispatch"));
    for (let start = 0; start < CAP; start += BATCH) {
      worker.send(
        dispatches.slice(start, start + BATCH).map((d) => ({
          type: "reply",
          id: d.id,
          body: encodeBody(d.id),
        })),
      );
    }
    // The link carries the first 1,000 outcomes; the client acks none of them.
    for (let replies = 0; replies < CAP; ) {
      const frame = await link.next();
      if ((frame as { type?: unknown }).type === "reply") replies++;
    }

    link.send(request("last", q));
    const last = await worker.next("dispatch");
    worker.send({ type: "reply", id: last.id, body: encodeBody("last") });
    expect(await carriers({ exchange, link }, "last")).toEqual(["exchange"]);
    // Nor did the link get it: not even by the answer to a bad frame sent now.
    await typesBeforeBarrier(link);
    expect(gotReply(link, "last")).toBe(false);
    link.close();
    exchange.close();
    worker.close();
  });

  it("sends the outcome past 32 Mi characters unacked on a link through /v1/connect instead", async () => {
    const q = "lnk-unacked-bytes";
    const identity = "lnk-unacked-bea";
    const count = Math.floor(MAX_UNACKED_CHARS_PER_LINK / 1_000_100);
    const worker = await TestServer.connect(q, "lnk-unacked-bytes-worker", count + 1);
    const { socket: exchange } = await TestSocket.client(identity);
    const link = await linkSocket(q, identity);
    const big = encodeBody("x".repeat(1_000_000));
    link.send(Array.from({ length: count }, (_, i) => request(`b${i}`, q)));
    for (let i = 0; i < count; i++) {
      const dispatch = await worker.next("dispatch");
      worker.send({ type: "reply", id: dispatch.id, body: big });
    }
    // The link carries them all (just under 32 Mi characters); the client acks none.
    for (let replies = 0; replies < count; ) {
      const frame = await link.next();
      if ((frame as { type?: unknown }).type === "reply") replies++;
    }

    link.send(request("last", q));
    const last = await worker.next("dispatch");
    worker.send({ type: "reply", id: last.id, body: big });
    expect(await carriers({ exchange, link }, "last")).toEqual(["exchange"]);
    link.close();
    exchange.close();
    worker.close();
  });
});
