/**
 * ExchangeDO delivery in workerd: routing by identity, the outbox, acks (never of an outcome that
 * came after them), replay and purge.
 */

import { abortAllDurableObjects, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { RESUME_WINDOW_MS } from "../../durable-objects/exchange/outbox.js";
import type { Outcome } from "../../durable-objects/shared/contracts.js";
import { encodeBody } from "../../protocol/index.js";
import { expectNothingElse, TestSocket } from "./exchange-test-socket.js";

const exchange = () => env.EXCHANGE.getByName("exchange");

function reply(to: string, id: string, text = `answer ${id}`): Outcome {
  return { to, frame: { type: "reply", id, body: encodeBody(text) } };
}

function outboxIds(identity: string): Promise<unknown[]> {
  return runInDurableObject(exchange(), (_instance, state) =>
    state.storage.sql
      .exec("SELECT id FROM outbox WHERE identity = ? ORDER BY id", identity)
      .toArray()
      .map((row) => row.id),
  );
}

describe("exchange delivery", () => {
  it("delivers an outcome only to its identity's socket, never to another identity", async () => {
    const alice = await TestSocket.client("alice-d");
    const bob = await TestSocket.client("bob-d");
    await exchange().deliver([reply("alice-d", "r1")]);
    expect(await alice.socket.next()).toEqual(reply("alice-d", "r1").frame);
    await expectNothingElse(bob.socket);
    alice.socket.close();
    bob.socket.close();
  });

  it("delivers several outcomes for one client, including typed errors, in order", async () => {
    const { socket } = await TestSocket.client("many");
    const failed: Outcome = {
      to: "many",
      frame: { type: "error", id: "r2", code: "timeout", message: "deadline passed" },
    };
    await exchange().deliver([reply("many", "r1"), failed, reply("many", "r3")]);
    expect(await socket.take(3)).toEqual([
      reply("many", "r1").frame,
      failed.frame,
      reply("many", "r3").frame,
    ]);
    socket.close();
  });

  it("replays the outbox to a client that connects after its outcomes arrived", async () => {
    await exchange().deliver([reply("away", "r1"), reply("away", "r2")]);
    const { socket, welcome } = await TestSocket.client("away");
    expect(welcome).toMatchObject({ type: "welcome", identity: "away" });
    expect(await socket.take(2)).toEqual([reply("away", "r1").frame, reply("away", "r2").frame]);
    socket.close();
  });

  it("deletes acked outcomes so a reconnect replays only the unacked ones", async () => {
    const first = await TestSocket.client("acker");
    await exchange().deliver([reply("acker", "r1"), reply("acker", "r2")]);
    await first.socket.take(2);
    first.socket.send({ type: "ack", ids: ["r1"] });
    await expectNothingElse(first.socket);
    // Acks are deleted with the next write or within ACK_FLUSH_MS (deferred-acks.ts).
    await expect.poll(() => outboxIds("acker"), { timeout: 5_000 }).toEqual(["r2"]);

    const second = await TestSocket.client("acker");
    expect(await second.socket.next()).toEqual(reply("acker", "r2").frame);
    second.socket.send({ type: "ack", ids: ["r2", "never-existed"] });
    await expectNothingElse(second.socket);
    await expect.poll(() => outboxIds("acker"), { timeout: 5_000 }).toEqual([]);
    second.socket.close();
  });

  it("keeps an outcome delivered after an ack of its id: an ack removes only what came before it", async () => {
    const { socket } = await TestSocket.client("early-acker");
    // An ack the client sent before the outcome existed (deferred, not applied yet).
    socket.send({ type: "ack", ids: ["r1"] });
    await expectNothingElse(socket);
    socket.close();
    await exchange().deliver([reply("early-acker", "r1")]);
    expect(await outboxIds("early-acker")).toEqual(["r1"]);
    const again = await TestSocket.client("early-acker");
    expect(await again.socket.next()).toEqual(reply("early-acker", "r1").frame);
    again.socket.close();
  });

  it("keeps an outcome for one identity when another identity acks the same id", async () => {
    await exchange().deliver([reply("owner", "shared-id")]);
    const { socket } = await TestSocket.client("intruder");
    socket.send({ type: "ack", ids: ["shared-id"] });
    await expectNothingElse(socket);
    expect(await outboxIds("owner")).toEqual(["shared-id"]);
    socket.close();
  });

  it("refuses outcomes with no valid recipient without storing or throwing", async () => {
    await exchange().deliver([reply("not valid/identity", "r1")]);
    expect(await outboxIds("not valid/identity")).toEqual([]);
  });

  it("purges outcomes older than the resume window when the alarm runs, keeping newer ones", async () => {
    await exchange().deliver([reply("stale", "old"), reply("stale", "new")]);
    await runInDurableObject(exchange(), (_instance, state) => {
      const past = Date.now() - RESUME_WINDOW_MS - 1_000;
      state.storage.sql.exec("UPDATE outbox SET created = ? WHERE id = 'old'", past);
    });
    expect(await runDurableObjectAlarm(exchange())).toBe(true);
    expect(await outboxIds("stale")).toEqual(["new"]);
  });

  it("keeps unacked outcomes across a restart of the object and replays them", async () => {
    const before = await TestSocket.client("restarted");
    await exchange().deliver([reply("restarted", "r1")]);
    expect(await before.socket.next()).toEqual(reply("restarted", "r1").frame);
    await abortAllDurableObjects();
    const after = await TestSocket.client("restarted");
    expect(await after.socket.next()).toEqual(reply("restarted", "r1").frame);
    after.socket.close();
  });
});
