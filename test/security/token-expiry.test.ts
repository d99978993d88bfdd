/**
 * A token that expires on a live connection ends it with close code 4401 and the reason
 * "token expired": on the next frame, or by the object's alarm. Tokens are minted 28-29 s in the
 * past, so with the relay's 30 s clock-skew allowance they are accepted and lapse within ~2 s.
 * An HTTP take or outcome poll ends by then too, whatever wait it asked for.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { CLOSE_CODE } from "../../protocol/index.js";
import { app } from "../../src/app.js";
import { call, mint, Peer, request, signedEnv, sleep, upgrade } from "./signed-relay.js";

/** Long enough for a token minted 28 s ago (exp rounded down) to pass the 30 s allowance. */
const LAPSE_MS = 2_100;
const almostExpired = -28;

/** Takes the object's alarm away, so only the per-frame check can close the socket. */
async function withoutAlarm(stub: DurableObjectStub): Promise<void> {
  await runInDurableObject(stub, (_instance, state) => state.storage.deleteAlarm());
}

/**
 * Ends the claim grace of every lease of `queue` (as if its 10 s had passed: the lessee closed
 * for an expired token did not come back) and runs the queue's alarm, set here since a test may
 * have taken it away (withoutAlarm).
 */
async function endClaimGrace(queue: string): Promise<void> {
  const stub = env.QUEUE.getByName(queue);
  await runInDurableObject(stub, async (_instance, state) => {
    state.storage.sql.exec("UPDATE requests SET lease_until = 1 WHERE state = 'leased'");
    await state.storage.setAlarm(Date.now() + 60_000);
  });
  await runDurableObjectAlarm(stub);
}

describe("token expiry on a live connection", () => {
  it("closes a client connection with 4401 on its next frame after the token expired", async () => {
    const client = await Peer.client(
      await mint({ sub: "exp-client", role: "client", queues: ["exp-q"], ttl: almostExpired }),
    );
    await withoutAlarm(env.EXCHANGE.getByName("exchange"));
    await sleep(LAPSE_MS);
    client.send({ ...request("late", "exp-q"), failFast: true });
    expect(await client.closed).toEqual({
      code: CLOSE_CODE.unauthorized,
      reason: "token expired",
    });
    expect(client.received.some((f) => "id" in f && f.id === "late")).toBe(false);
  });

  it("closes an idle client connection by the exchange's alarm", async () => {
    const client = await Peer.client(
      await mint({ sub: "exp-idle", role: "client", queues: ["exp-q"], ttl: almostExpired }),
    );
    await sleep(LAPSE_MS);
    await runDurableObjectAlarm(env.EXCHANGE.getByName("exchange"));
    expect(await client.closed).toEqual({
      code: CLOSE_CODE.unauthorized,
      reason: "token expired",
    });
  });

  it("closes an expired server, never dispatches to it, and gives its lease to another server once its claim grace ends", async () => {
    const queue = "exp-serve";
    const fading = await Peer.server(
      queue,
      await mint({ sub: "exp-srv-old", role: "server", queues: [queue], ttl: almostExpired }),
    );
    const client = await Peer.client(
      await mint({ sub: "exp-asker", role: "client", queues: [queue] }),
    );
    client.send(request("held", queue));
    const held = await fading.next("dispatch");
    await sleep(LAPSE_MS);
    await runDurableObjectAlarm(env.QUEUE.getByName(queue));
    expect(await fading.closed).toEqual({
      code: CLOSE_CODE.unauthorized,
      reason: "token expired",
    });

    const fresh = await Peer.server(
      queue,
      await mint({ sub: "exp-srv-new", role: "server", queues: [queue] }),
    );
    // The lease waits for its own server to reconnect and claim it; this one never does.
    expect(await env.QUEUE.getByName(queue).stats()).toMatchObject({ leased: 1, queued: 0 });
    await endClaimGrace(queue);
    const again = await fresh.next("dispatch");
    expect(again.attempt).toBe(held.attempt + 1);
    fresh.send({ type: "reply", id: again.id, body: { enc: "json", data: '"done"' } });
    expect(await client.next("reply", "held")).toMatchObject({ id: "held" });
    for (const peer of [client, fresh]) peer.close();
  });

  it("refuses a reply from a server whose token expired and closes it", async () => {
    const queue = "exp-reply";
    const server = await Peer.server(
      queue,
      await mint({ sub: "exp-srv-r", role: "server", queues: [queue], ttl: almostExpired }),
    );
    const client = await Peer.client(
      await mint({ sub: "exp-asker-r", role: "client", queues: [queue] }),
    );
    client.send(request("r1", queue));
    const dispatch = await server.next("dispatch");
    await withoutAlarm(env.QUEUE.getByName(queue));
    await sleep(LAPSE_MS);
    server.send({ type: "reply", id: dispatch.id, body: { enc: "json", data: '"late"' } });
    expect(await server.closed).toEqual({
      code: CLOSE_CODE.unauthorized,
      reason: "token expired",
    });
    // The late reply did not count: the request goes to the next server, as attempt 2, once the
    // lease's claim grace ends.
    const fresh = await Peer.server(
      queue,
      await mint({ sub: "exp-srv-r2", role: "server", queues: [queue] }),
    );
    await endClaimGrace(queue);
    expect(await fresh.next("dispatch")).toMatchObject({ id: dispatch.id, attempt: 2 });
    expect(client.received.some((f) => f.type === "reply")).toBe(false);
    for (const peer of [client, fresh]) peer.close();
  });
});

describe("token expiry on a queue link", () => {
  it("closes a link with 4401 on its next frame after the token expired, without storing the request", async () => {
    const queue = "exp-link-frame";
    const token = await mint({
      sub: "exp-linker",
      role: "client",
      queues: [queue],
      ttl: almostExpired,
    });
    const link = await Peer.open(upgrade(`/v1/queues/${queue}/connect`, token));
    await link.next("welcome");
    await withoutAlarm(env.QUEUE.getByName(queue));
    await sleep(LAPSE_MS);
    link.send({ ...request("late", queue), failFast: true });
    expect(await link.closed).toEqual({ code: CLOSE_CODE.unauthorized, reason: "token expired" });
    expect(link.received.some((f) => "id" in f && f.id === "late")).toBe(false);
  });

  it("closes an idle link by the queue's alarm", async () => {
    const queue = "exp-link-idle";
    const token = await mint({
      sub: "exp-idler",
      role: "client",
      queues: [queue],
      ttl: almostExpired,
    });
    const link = await Peer.open(upgrade(`/v1/queues/${queue}/connect`, token));
    await link.next("welcome");
    await sleep(LAPSE_MS);
    await runDurableObjectAlarm(env.QUEUE.getByName(queue));
    expect(await link.closed).toEqual({ code: CLOSE_CODE.unauthorized, reason: "token expired" });
  });

  it("ends an HTTP take by its token's expiry, so no request goes to a server that cannot answer", async () => {
    const queue = "exp-http-take";
    const server = await mint({
      sub: "exp-taker",
      role: "server",
      queues: [queue],
      ttl: almostExpired,
    });
    const client = await mint({ sub: "exp-asker", role: "client", queues: [queue] });
    const post = (path: string, token: string) =>
      app.request(
        path,
        { method: "POST", headers: { Authorization: `Bearer ${token}` } },
        signedEnv,
      );
    // Asks to wait a minute; the token lapses within ~2 s, and the take ends empty then.
    const taken = await post(`/v1/queues/${queue}/take?wait=60000`, server);
    expect(taken.status).toBe(204);
    // A request sent now waits for a server with a valid token; this one's next take is refused.
    expect((await post(`/v1/queues/${queue}/requests?async=true`, client)).status).toBe(202);
    expect((await post(`/v1/queues/${queue}/take?wait=0`, server)).status).toBe(401);
  });

  it("ends an outcome poll by its token's expiry", async () => {
    const token = await mint({
      sub: "exp-poller",
      role: "client",
      queues: ["exp-q"],
      ttl: almostExpired,
    });
    const polled = await call("/v1/outcomes?poller=tab-exp&wait=60000", {
      Authorization: `Bearer ${token}`,
    });
    expect(polled.status).toBe(200);
    expect(await polled.json()).toEqual({ outcomes: [], after: 0 });
  });
});
