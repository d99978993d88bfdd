/**
 * The exchange's paged outbox replay in workerd (replay-pages.ts): a reconnecting client gets its
 * pending outcomes a page at a time, the next page once what it has not acked is down to half a
 * page (so never more than a page and a half in flight, however it splits its acks), each
 * outcome once and in the order stored; outcomes that arrive meanwhile come after the replay,
 * never before older ones; and the cursor, kept in the socket's attachment, survives a wake-up.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ExchangeDO } from "../../durable-objects/exchange/exchange-do.js";
import { REPLAY_PAGE_FRAMES } from "../../durable-objects/exchange/outbox-limits.js";
import type { Outcome } from "../../durable-objects/shared/contracts.js";
import { encodeBody } from "../../protocol/index.js";
import { expectNothingElse, idOf, TestSocket } from "./exchange-test-socket.js";

const exchange = () => env.EXCHANGE.getByName("exchange");

/** Replies for `to` with ids `${prefix}-${from}` to `${prefix}-${from + count - 1}`. */
function replies(to: string, count: number, from = 0, prefix = "o"): Outcome[] {
  return Array.from({ length: count }, (_, i) => ({
    to,
    frame: { type: "reply", id: `${prefix}-${from + i}`, body: encodeBody(from + i) },
  }));
}

const idsOf = (outcomes: readonly Outcome[]) => outcomes.map((o) => o.frame.id);

describe("outbox replay in pages", () => {
  it("replays 2,500 pending outcomes in pages of 1,000, each once the client acked half of the one before, each outcome once and in order", async () => {
    const pending = replies("pager", 2_500);
    await exchange().deliver(pending);
    const { socket } = await TestSocket.client("pager");

    const first = (await socket.take(REPLAY_PAGE_FRAMES)).map(idOf);
    await expectNothingElse(socket);
    socket.send({ type: "ack", ids: first.slice(0, 499) });
    await expectNothingElse(socket);
    socket.send({ type: "ack", ids: first.slice(499) });
    const second = (await socket.take(REPLAY_PAGE_FRAMES)).map(idOf);
    await expectNothingElse(socket);
    socket.send({ type: "ack", ids: second });
    const third = (await socket.take(500)).map(idOf);
    await expectNothingElse(socket);

    const all = [...first, ...second, ...third];
    expect(all).toEqual(idsOf(pending));
    expect(new Set(all).size).toBe(all.length);
    socket.close();
  });

  it("keeps at most a page and a half unacked on the wire when the client acks in small pieces", async () => {
    const total = 6_000;
    const body = encodeBody("y".repeat(4 * 1024));
    await exchange().deliver(
      Array.from({ length: total }, (_, i) => ({
        to: "chunky",
        frame: { type: "reply" as const, id: `c-${i}`, body },
      })),
    );
    const { socket } = await TestSocket.client("chunky");
    let acked = 0;
    let most = 0;
    while (acked < total) {
      // As the SDK does for outcomes that came in several messages: an ack per piece.
      const batch = await socket.take(Math.min(250, total - acked));
      socket.send({ type: "ack", ids: batch.map(idOf) });
      acked += batch.length;
      await new Promise((resolve) => setTimeout(resolve, 20));
      most = Math.max(most, socket.buffered);
    }
    expect(most).toBeLessThanOrEqual(REPLAY_PAGE_FRAMES * 1.5);
    socket.close();
  });

  it("sends outcomes that arrive during the replay after it, never before older ones, then live again", async () => {
    const pending = replies("pager-live", 1_500);
    await exchange().deliver(pending);
    const { socket } = await TestSocket.client("pager-live");
    const first = (await socket.take(REPLAY_PAGE_FRAMES)).map(idOf);

    await exchange().deliver(replies("pager-live", 1, 0, "late"));
    await expectNothingElse(socket);
    socket.send({ type: "ack", ids: first });
    const second = (await socket.take(501)).map(idOf);
    expect([...first, ...second]).toEqual([...idsOf(pending), "late-0"]);
    await expectNothingElse(socket);

    // The replay is over: the next outcome goes straight to the socket.
    await exchange().deliver(replies("pager-live", 1, 1, "late"));
    expect(idOf(await socket.next())).toBe("late-1");
    socket.close();
  });

  it("continues a replay on a woken instance from the cursor kept in the socket's attachment", async () => {
    const pending = replies("pager-woken", 1_200);
    await exchange().deliver(pending);
    const { socket } = await TestSocket.client("pager-woken");
    const first = (await socket.take(REPLAY_PAGE_FRAMES)).map(idOf);
    await expectNothingElse(socket);

    await runInDurableObject(exchange(), async (_instance, state) => {
      const woken = new ExchangeDO(state, env);
      const [ws] = state.getWebSockets("id:pager-woken");
      if (ws === undefined) throw new Error("expected the client's socket");
      await woken.webSocketMessage(ws, JSON.stringify({ type: "ack", ids: first }));
    });
    const second = (await socket.take(200)).map(idOf);
    expect([...first, ...second]).toEqual(idsOf(pending));
    await expectNothingElse(socket);
    socket.close();
  });
});
