/**
 * The exchange's per-identity cap on unacked outcomes in workerd (outbox-limits.ts): an identity
 * holding MAX_HELD_OUTCOMES gets its new requests refused with `too_many_in_flight` (WebSocket and
 * HTTP), its re-sends of requests the queue holds still answered, other identities untouched,
 * and is admitted again once it acks; memory-mode outcomes past the memory budget are kept in
 * SQLite, replayed, forgotten on ack and purged like durable ones.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ExchangeDO } from "../../durable-objects/exchange/exchange-do.js";
import { RESUME_WINDOW_MS } from "../../durable-objects/exchange/outbox.js";
import {
  MAX_HELD_OUTCOMES,
  REPLAY_PAGE_FRAMES,
} from "../../durable-objects/exchange/outbox-limits.js";
import type { Outcome } from "../../durable-objects/shared/contracts.js";
import { encodeBody } from "../../protocol/index.js";
import {
  expectNothingElse,
  idOf,
  linkSocket,
  serverSocket,
  TestSocket,
} from "./exchange-test-socket.js";
import { expectError, http } from "./http-test-peer.js";

const exchange = () => env.EXCHANGE.getByName("exchange");

/** `count` small replies for `to`, ids `o-0`, `o-1`, ... */
function replies(to: string, count: number): Outcome[] {
  return Array.from({ length: count }, (_, i) => ({
    to,
    frame: { type: "reply", id: `o-${i}`, body: encodeBody(i) },
  }));
}

/** `count` memory-mode replies of 100 KiB for `to`, ids `m-0`, `m-1`, ... */
function bigMemoryReplies(to: string, count: number): Outcome[] {
  const body = encodeBody("x".repeat(100 * 1024));
  return Array.from({ length: count }, (_, i) => ({
    to,
    frame: { type: "reply", id: `m-${i}`, body },
    memory: true,
  }));
}

function request(id: string, queue: string) {
  return { type: "request", id, queue, body: encodeBody(id), timeout: 60_000 };
}

function outboxIds(identity: string): Promise<unknown[]> {
  return runInDurableObject(exchange(), (_instance, state) =>
    state.storage.sql
      .exec("SELECT id FROM outbox WHERE identity = ? ORDER BY rowid", identity)
      .toArray()
      .map((row) => row.id),
  );
}

/** How many identities queue `queue` holds as at their exchange's cap (capped-identities.ts). */
function cappedAtQueue(queue: string): Promise<number> {
  return runInDurableObject(
    env.QUEUE.getByName(queue),
    (instance) =>
      (instance as unknown as { state: { capped: { size: number } } }).state.capped.size,
  );
}

const capRefusal = {
  type: "error",
  code: "too_many_in_flight",
  message: expect.stringContaining("acknowledgement"),
};

describe("the exchange's cap on unacked outcomes per identity", () => {
  it("refuses new requests of an identity at its cap with too_many_in_flight, admits other identities, and admits it again once it acks", async () => {
    await exchange().deliver(replies("hoarder", MAX_HELD_OUTCOMES));
    const hoarder = await TestSocket.client("hoarder");
    await hoarder.socket.take(REPLAY_PAGE_FRAMES);

    hoarder.socket.send(request("new-1", "cap-q"));
    expect(await hoarder.socket.next()).toMatchObject({ ...capRefusal, id: "new-1" });
    const http429 = await http("/v1/queues/cap-q/requests?async=true", {
      identity: "hoarder",
      contentType: "text/plain",
      body: "x",
    });
    await expectError(http429, 429, "too_many_in_flight");

    const bystander = await TestSocket.client("bystander");
    bystander.socket.send(request("b-1", "cap-q"));
    expect(await bystander.socket.next()).toMatchObject({ type: "accepted", id: "b-1" });

    hoarder.socket.send({ type: "ack", ids: ["o-0"] });
    hoarder.socket.send(request("new-2", "cap-q"));
    expect(await hoarder.socket.next()).toMatchObject({ type: "accepted", id: "new-2" });
    hoarder.socket.close();
    bystander.socket.close();
  });

  it("refuses new requests on a queue link of an identity its exchange holds at its cap, answers its re-sends there, and admits it again once it acks", async () => {
    const q = "cap-link";
    await exchange().deliver(replies("linker", MAX_HELD_OUTCOMES - 1));
    const worker = await serverSocket(q, "cap-link-worker");
    const link = await linkSocket(q, "linker");
    link.send(request("kept", q));
    expect(await link.next()).toMatchObject({ type: "accepted", id: "kept" });
    expect(await worker.next()).toMatchObject({ type: "dispatch", from: "linker" });

    // One more outcome, through the exchange, puts the identity at its cap: the exchange says so
    // in its answer to the queue's delivery.
    const client = await TestSocket.client("linker");
    await client.socket.take(REPLAY_PAGE_FRAMES);
    client.socket.send(request("via-exchange", q));
    expect(await client.socket.next()).toMatchObject({ type: "accepted", id: "via-exchange" });
    const dispatch = await worker.next();
    worker.send({ type: "reply", id: idOf(dispatch), body: encodeBody("done") });
    await expect.poll(() => cappedAtQueue(q), { timeout: 5_000 }).toBe(1);

    // New requests on the link are refused (a few may pass while the queue asks the exchange
    // again, CAP_RECHECK_MS after its last answer); a re-send of a request it holds is answered.
    let attempt = 0;
    const next = async () => {
      const id = `new-${attempt++}`;
      link.send(request(id, q));
      const frame = (await link.next()) as { id?: string; type: string; code?: string };
      expect(frame.id).toBe(id);
      return frame;
    };
    let frame = await next();
    while (frame.type === "accepted" && attempt < 20) frame = await next();
    expect(frame).toMatchObject(capRefusal);
    link.send(request("kept", q));
    expect(await link.next()).toMatchObject({ type: "accepted", id: "kept" });

    // One ack brings it under: the queue admits its link requests again and lifts the mark.
    client.socket.send({ type: "ack", ids: ["o-0"] });
    await expect.poll(async () => (await next()).type, { timeout: 5_000 }).toBe("accepted");
    await expect.poll(() => cappedAtQueue(q), { timeout: 5_000 }).toBe(0);
    link.close();
    client.socket.close();
    worker.close();
  });

  it("answers a re-send of a request its queue holds from an identity at its cap, and refuses a new one", async () => {
    const first = await TestSocket.client("resender");
    first.socket.send(request("kept", "cap-resend"));
    const accepted = await first.socket.next();
    expect(accepted).toMatchObject({ type: "accepted", id: "kept" });
    first.socket.close();
    await first.socket.closed;

    await exchange().deliver(replies("resender", MAX_HELD_OUTCOMES));
    const again = await TestSocket.client("resender");
    await again.socket.take(REPLAY_PAGE_FRAMES);
    again.socket.send([request("kept", "cap-resend"), request("fresh", "cap-resend")]);
    expect(await again.socket.take(2)).toEqual([
      accepted,
      expect.objectContaining({ ...capRefusal, id: "fresh" }),
    ]);
    again.socket.close();
  });

  it("keeps memory-mode outcomes past the identity's memory budget in SQLite, replays them all and forgets them on ack", async () => {
    const outcomes = bigMemoryReplies("spender", 60);
    await exchange().deliver(outcomes);
    const stored = await outboxIds("spender");
    // The first ones fit in memory (4 MiB); the rest are in SQLite, in their order.
    expect(stored.length).toBeGreaterThan(0);
    expect(stored.length).toBeLessThan(60);
    expect(stored).toEqual(outcomes.slice(60 - stored.length).map((o) => o.frame.id));

    const { socket } = await TestSocket.client("spender");
    const replayed = await socket.take(60);
    expect(replayed.map(idOf)).toEqual(outcomes.map((o) => o.frame.id));
    socket.send({ type: "ack", ids: replayed.map(idOf) });
    await expectNothingElse(socket);
    await expect.poll(() => outboxIds("spender"), { timeout: 5_000 }).toEqual([]);
    socket.close();
    await socket.closed;

    const again = await TestSocket.client("spender");
    await expectNothingElse(again.socket);
    again.socket.close();
  });

  it("purges memory-mode outcomes kept in SQLite at the end of the resume window, like stored ones", async () => {
    await exchange().deliver(bigMemoryReplies("spender-2", 50));
    const stored = await outboxIds("spender-2");
    expect(stored.length).toBeGreaterThan(0);
    // (No restart: aborting the shared exchange would reset other test files' sockets and
    // rate-limit buckets in the same run. Being in SQLite is what makes them outlive one.)

    await runInDurableObject(exchange(), (_instance, state) => {
      const past = Date.now() - RESUME_WINDOW_MS - 1_000;
      state.storage.sql.exec("UPDATE outbox SET created = ? WHERE identity = 'spender-2'", past);
    });
    expect(await runDurableObjectAlarm(exchange())).toBe(true);
    expect(await outboxIds("spender-2")).toEqual([]);
  });

  it("takes purged outcomes off the identity's count: a capped identity whose old outcomes expire is admitted again", async () => {
    await exchange().deliver(replies("expiring", MAX_HELD_OUTCOMES));
    const first = await TestSocket.client("expiring");
    await first.socket.take(REPLAY_PAGE_FRAMES);
    first.socket.send(request("while-capped", "cap-expire"));
    expect(await first.socket.next()).toMatchObject({ ...capRefusal, id: "while-capped" });
    first.socket.close();
    await first.socket.closed;

    await runInDurableObject(exchange(), (_instance, state) => {
      const past = Date.now() - RESUME_WINDOW_MS - 1_000;
      state.storage.sql.exec(
        "UPDATE outbox SET created = ? WHERE identity = 'expiring' AND rowid IN (SELECT rowid FROM outbox WHERE identity = 'expiring' ORDER BY rowid LIMIT 10)",
        past,
      );
    });
    expect(await runDurableObjectAlarm(exchange())).toBe(true);
    const held = await runInDurableObject(exchange(), (instance: ExchangeDO) =>
      (instance as unknown as { held(identity: string): { count: number } }).held("expiring"),
    );
    expect(held.count).toBe(MAX_HELD_OUTCOMES - 10);
    const second = await TestSocket.client("expiring");
    await second.socket.take(REPLAY_PAGE_FRAMES);
    second.socket.send(request("after-purge", "cap-expire"));
    expect(await second.socket.next()).toMatchObject({ type: "accepted", id: "after-purge" });
    second.socket.close();
  });

  it("admits a capped identity once its outcomes pass the resume window, without waiting for the alarm's purge", async () => {
    await exchange().deliver(replies("stale-capped", MAX_HELD_OUTCOMES));
    const client = await TestSocket.client("stale-capped");
    await client.socket.take(REPLAY_PAGE_FRAMES);
    client.socket.send(request("capped", "cap-stale"));
    expect(await client.socket.next()).toMatchObject({ ...capRefusal, id: "capped" });

    await runInDurableObject(exchange(), (_instance, state) => {
      const past = Date.now() - RESUME_WINDOW_MS - 1_000;
      state.storage.sql.exec("UPDATE outbox SET created = ? WHERE identity = 'stale-capped'", past);
    });
    client.socket.send(request("admitted", "cap-stale"));
    expect(await client.socket.next()).toMatchObject({ type: "accepted", id: "admitted" });
    expect(await outboxIds("stale-capped")).toEqual([]);
    client.socket.close();
  });

  it("replays to a reconnecting client only the outcomes still inside the resume window", async () => {
    await exchange().deliver(replies("stale-reader", 2));
    await runInDurableObject(exchange(), (_instance, state) => {
      const past = Date.now() - RESUME_WINDOW_MS - 1_000;
      state.storage.sql.exec(
        "UPDATE outbox SET created = ? WHERE identity = 'stale-reader' AND id = 'o-0'",
        past,
      );
    });
    const client = await TestSocket.client("stale-reader");
    expect(await client.socket.next()).toMatchObject({ type: "reply", id: "o-1" });
    await expectNothingElse(client.socket);
    expect(await outboxIds("stale-reader")).toEqual(["o-1"]);
    client.socket.close();
  });

  it("adopts an outbox made before versioned migrations and its size column, keeping its rows in order", async () => {
    const legacy = env.EXCHANGE.getByName("exchange-legacy");
    const rows = await runInDurableObject(legacy, async (_instance, state) => {
      const sql = state.storage.sql;
      sql.exec("DROP TABLE outbox");
      sql.exec("DROP TABLE _migrations");
      sql.exec(`CREATE TABLE outbox (identity TEXT NOT NULL, id TEXT NOT NULL,
        frame TEXT NOT NULL, created INTEGER NOT NULL, PRIMARY KEY (identity, id))`);
      const [old] = replies("old-timer", 1);
      sql.exec(
        "INSERT INTO outbox VALUES ('old-timer', 'o-0', ?, ?)",
        JSON.stringify(old?.frame),
        1,
      );
      const woken = new ExchangeDO(state, env);
      expect(sql.exec("SELECT version FROM _migrations").toArray()).toEqual([
        { version: 1 },
        { version: 2 },
        { version: 3 },
      ]);
      await woken.deliver(replies("old-timer", 2).slice(1));
      return sql.exec("SELECT id, size FROM outbox ORDER BY rowid").toArray();
    });
    expect(rows).toEqual([
      { id: "o-0", size: 0 },
      { id: "o-1", size: expect.any(Number) },
    ]);
    expect(rows[1]?.size).toBeGreaterThan(0);
  });
});
