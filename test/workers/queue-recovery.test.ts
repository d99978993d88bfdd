/**
 * QueueDO recovery in workerd: deadlines ended by the alarm (timeout vs no_responders), leases
 * returned when a server disconnects or is replaced, the redelivery limit (a last allowed
 * dispatch whose socket closed waits a short grace for its server's claim), requests kept across a
 * reset of every object (abortAllDurableObjects), and leases a reconnected server claims with
 * `ready {holding}` after a takeover or a reset, so its handler's answer counts; an HTTP server's
 * lease held over a reset gets the same short grace, kept by its extension or answer.
 */

import { abortAllDurableObjects, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ORPHAN_CLAIM_GRACE_MS } from "../../durable-objects/queue/lease-claims.js";
import { QueueDO } from "../../durable-objects/queue/queue-do.js";
import { TOKEN_SKEW_SECONDS } from "../../protocol/index.js";
import { http } from "./http-test-peer.js";
import { outcomeFor, request, sleep, TestServer } from "./queue-test-server.js";

const queueStub = (queue: string) => env.QUEUE.getByName(queue);

/** Enqueues a request with a 1 ms timeout, lets it pass and runs the queue's alarm. */
async function expireOne(queue: string, from: string, id: string): Promise<void> {
  const [answer] = await queueStub(queue).enqueue({
    queue,
    from,
    requests: [request(id, queue, { timeout: 1 })],
  });
  expect(answer).toMatchObject({ ok: true });
  await sleep(5);
  await runDurableObjectAlarm(queueStub(queue));
}

/** Lets every lease of `queue` run out (as if its grace had passed) and runs the queue's alarm. */
async function endGraces(queue: string): Promise<void> {
  await runInDurableObject(queueStub(queue), (_instance, state) => {
    state.storage.sql.exec("UPDATE requests SET lease_until = 1 WHERE state = 'leased'");
  });
  await runDurableObjectAlarm(queueStub(queue));
}

describe("QueueDO deadlines", () => {
  it("ends an expired request with timeout when a server was connected", async () => {
    const idle = await TestServer.connect("dl-1", "w1", 0);
    await expireOne("dl-1", "kim", "t");
    expect(await outcomeFor("kim", "t")).toMatchObject({ type: "error", id: "t", code: "timeout" });
    idle.close();
  });

  it("ends an expired request with no_responders when no server was ever connected", async () => {
    await expireOne("dl-2", "lea", "n");
    expect(await outcomeFor("lea", "n")).toMatchObject({ code: "no_responders" });
  });

  it("counts a server that connects during a request's life as seen, giving timeout", async () => {
    await queueStub("dl-3").enqueue({
      queue: "dl-3",
      from: "max",
      requests: [request("s", "dl-3", { timeout: 1_000 })],
    });
    // Connecting takes a few ms (tens on a loaded machine): well inside the request's life.
    const idle = await TestServer.connect("dl-3", "w1", 0);
    await sleep(1_100);
    await runDurableObjectAlarm(queueStub("dl-3"));
    expect(await outcomeFor("max", "s")).toMatchObject({ code: "timeout" });
    idle.close();
  });

  it("tells the lessee to stop when a leased request's deadline passes", async () => {
    const server = await TestServer.connect("dl-4", "w1");
    await queueStub("dl-4").enqueue({
      queue: "dl-4",
      from: "ned",
      requests: [request("l", "dl-4", { timeout: 30 })],
    });
    const dispatch = await server.next("dispatch");
    await sleep(40);
    await runDurableObjectAlarm(queueStub("dl-4"));
    expect(await server.next("cancel")).toEqual({ type: "cancel", id: dispatch.id });
    expect(await outcomeFor("ned", "l")).toMatchObject({ code: "timeout" });
    server.send({ type: "reply", id: dispatch.id, body: { enc: "json", data: "1" } });
    expect(await server.next("error")).toMatchObject({ id: dispatch.id, code: "expired" });
    server.close();
  });
});

describe("QueueDO server loss", () => {
  it("redelivers a leased request with attempt 2 when its server disconnects", async () => {
    const first = await TestServer.connect("loss-1", "w1");
    await queueStub("loss-1").enqueue({
      queue: "loss-1",
      from: "ola",
      requests: [request("r", "loss-1")],
    });
    expect((await first.next("dispatch")).attempt).toBe(1);
    first.close();
    await first.closed;
    const second = await TestServer.connect("loss-1", "w2");
    const again = await second.next("dispatch");
    expect(again).toMatchObject({ attempt: 2, from: "ola" });
    second.send({ type: "reply", id: again.id, body: { enc: "json", data: "2" } });
    expect(await outcomeFor("ola", "r")).toMatchObject({ type: "reply", body: { data: "2" } });
    second.close();
  });

  it("replaces an older connection of the same server identity and requeues its leases", async () => {
    const old = await TestServer.connect("loss-2", "w1");
    await queueStub("loss-2").enqueue({
      queue: "loss-2",
      from: "pam",
      requests: [request("r", "loss-2")],
    });
    await old.next("dispatch");
    const newer = await TestServer.connect("loss-2", "w1");
    expect((await old.closed).code).toBe(4001);
    expect(await newer.next("dispatch")).toMatchObject({ attempt: 2 });
    expect((await queueStub("loss-2").stats()).servers).toBe(1);
    newer.close();
  });

  it("gives the client server_error once a request has been dispatched maxAttempts times", async () => {
    for (let attempt = 1; attempt <= 3; attempt++) {
      const server = await TestServer.connect("loss-3", `w${attempt}`);
      if (attempt === 1) {
        await queueStub("loss-3").enqueue({
          queue: "loss-3",
          from: "quin",
          requests: [request("r", "loss-3")],
        });
      }
      expect((await server.next("dispatch")).attempt).toBe(attempt);
      server.close();
      await server.closed;
    }
    // The last dispatch's lease waits a short grace for its server to come back and claim it
    // (no other server may take it), then ends the request.
    await endGraces("loss-3");
    const outcome = await outcomeFor("quin", "r");
    expect(outcome).toMatchObject({ type: "error", code: "server_error" });
  });

  it("lets the server of a request's last allowed dispatch reconnect and answer it: no server_error for a dropped socket", async () => {
    let last: { id: string } | undefined;
    for (let attempt = 1; attempt <= 3; attempt++) {
      const server = await TestServer.connect("loss-4", `w${attempt}`);
      if (attempt === 1) {
        await queueStub("loss-4").enqueue({
          queue: "loss-4",
          from: "rui",
          requests: [request("r", "loss-4")],
        });
      }
      last = await server.next("dispatch");
      expect(last).toMatchObject({ attempt });
      server.close(); // the third socket drops (a network cut), its handler still running
      await server.closed;
    }
    expect(await queueStub("loss-4").stats()).toMatchObject({ leased: 1, queued: 0 });
    const back = await TestServer.connect("loss-4", "w3", 0);
    back.send([
      { type: "ready", concurrency: 1, holding: [String(last?.id)] },
      { type: "reply", id: String(last?.id), body: { enc: "json", data: '"answered"' } },
    ]);
    expect(await outcomeFor("rui", "r")).toMatchObject({ body: { data: '"answered"' } });
    back.close();
  });

  it("ends a request's last allowed dispatch with server_error at once when its server comes back without it", async () => {
    for (let attempt = 1; attempt <= 3; attempt++) {
      const server = await TestServer.connect("loss-5", `w${attempt}`);
      if (attempt === 1) {
        await queueStub("loss-5").enqueue({
          queue: "loss-5",
          from: "sol",
          requests: [request("r", "loss-5")],
        });
      }
      expect(await server.next("dispatch")).toMatchObject({ attempt });
      server.close();
      await server.closed;
    }
    const restarted = await TestServer.connect("loss-5", "w3", 0);
    restarted.send({ type: "ready", concurrency: 1 });
    expect(await outcomeFor("sol", "r")).toMatchObject({ type: "error", code: "server_error" });
    restarted.close();
  });

  it("lets a server closed for an expired token (4401) reconnect and answer its last allowed dispatch", async () => {
    let last: { id: string } | undefined;
    for (let attempt = 1; attempt <= 3; attempt++) {
      // The third server's token expires (past the allowed skew) a second after it connects.
      const closeAt = Date.now() + 1000;
      const expiresAt = attempt === 3 ? closeAt - TOKEN_SKEW_SECONDS * 1000 : undefined;
      const server = await TestServer.connect("loss-6", `w${attempt}`, 10, expiresAt);
      if (attempt === 1) {
        await queueStub("loss-6").enqueue({
          queue: "loss-6",
          from: "ula",
          requests: [request("r", "loss-6")],
        });
      }
      last = await server.next("dispatch");
      expect(last).toMatchObject({ attempt });
      if (attempt < 3) {
        server.close();
        await server.closed;
        continue;
      }
      // Its handler still runs; its next frame (or the alarm) finds the token expired.
      await sleep(Math.max(0, closeAt - Date.now()) + 50);
      try {
        server.send({ type: "extend", id: last.id });
      } catch {
        // The queue's alarm closed it first.
      }
      expect(await server.closed).toMatchObject({ code: 4401, reason: "token expired" });
    }
    // As for a dropped socket: the lease waits for the server, back at once with a fresh token.
    expect(await queueStub("loss-6").stats()).toMatchObject({ leased: 1, queued: 0 });
    const back = await TestServer.connect("loss-6", "w3", 0);
    back.send([
      { type: "ready", concurrency: 1, holding: [String(last?.id)] },
      { type: "reply", id: String(last?.id), body: { enc: "json", data: '"answered"' } },
    ]);
    expect(await outcomeFor("ula", "r")).toMatchObject({ body: { data: '"answered"' } });
    back.close();
  });

  it("keeps requests across a reset of every object and redelivers the lost lease", async () => {
    const server = await TestServer.connect("reset-1", "w1", 1);
    const stub = queueStub("reset-1");
    await stub.enqueue({
      queue: "reset-1",
      from: "rae",
      requests: [request("leased", "reset-1"), request("waiting", "reset-1")],
    });
    await server.next("dispatch");
    await abortAllDurableObjects();
    await server.closed;
    const back = await TestServer.connect("reset-1", "w1", 2);
    const frames = [await back.next("dispatch"), await back.next("dispatch")];
    expect(frames.map((f) => f.attempt).sort()).toEqual([1, 2]);
    for (const f of frames)
      back.send({ type: "reply", id: f.id, body: { enc: "json", data: "1" } });
    expect(await outcomeFor("rae", "leased")).toMatchObject({ type: "reply" });
    expect(await outcomeFor("rae", "waiting")).toMatchObject({ type: "reply" });
    back.close();
  });
});

describe("QueueDO servers whose lease ran out", () => {
  it("gets no more dispatches, its request's included, until it sends a message", async () => {
    const server = await TestServer.connect("stall-1", "w1");
    const stub = queueStub("stall-1");
    await stub.enqueue({ queue: "stall-1", from: "abe", requests: [request("r1", "stall-1")] });
    const first = await server.next("dispatch");
    // Its lease runs out with no extend (a stalled process, or a half-open socket).
    await runInDurableObject(stub, (_instance, state) => {
      state.storage.sql.exec("UPDATE requests SET lease_until = 1 WHERE state = 'leased'");
    });
    await runDurableObjectAlarm(stub);
    expect(await server.next("cancel")).toEqual({ type: "cancel", id: first.id });
    await stub.enqueue({ queue: "stall-1", from: "abe", requests: [request("r2", "stall-1")] });
    expect(await stub.stats()).toMatchObject({ queued: 2, leased: 0 });
    // Heard from again: both come to it, r1 as its second attempt.
    server.send({ type: "extend", ids: [] });
    const again = [await server.next("dispatch"), await server.next("dispatch")];
    expect(again.map((d) => d.attempt).sort()).toEqual([1, 2]);
    server.close();
  });
});

describe("QueueDO leases claimed by a reconnected server (ready {holding})", () => {
  it("moves a replaced connection's lease to the newer one: its reply counts, no redelivery", async () => {
    const old = await TestServer.connect("claim-1", "w1");
    await queueStub("claim-1").enqueue({
      queue: "claim-1",
      from: "uma",
      requests: [request("r", "claim-1")],
    });
    const dispatch = await old.next("dispatch");
    const newer = await TestServer.connect("claim-1", "w1", 0);
    expect((await old.closed).code).toBe(4001);
    newer.send([
      { type: "ready", concurrency: 10, holding: [dispatch.id] },
      { type: "reply", id: dispatch.id, body: { enc: "json", data: '"kept"' } },
    ]);
    expect(await outcomeFor("uma", "r")).toMatchObject({ type: "reply", body: { data: '"kept"' } });
    expect(await queueStub("claim-1").stats()).toMatchObject({ leased: 0, queued: 0 });
    newer.close();
  });

  it("lets a server that reconnects after a reset of every object answer what it still holds", async () => {
    const server = await TestServer.connect("claim-2", "w1", 1);
    await queueStub("claim-2").enqueue({
      queue: "claim-2",
      from: "vic",
      requests: [request("held", "claim-2"), request("waiting", "claim-2")],
    });
    const held = await server.next("dispatch");
    await abortAllDurableObjects();
    await server.closed;
    const back = await TestServer.connect("claim-2", "w1", 0);
    back.send({ type: "ready", concurrency: 1, holding: [held.id] });
    back.send({ type: "reply", id: held.id, body: { enc: "json", data: "1" } });
    expect(await outcomeFor("vic", "held")).toMatchObject({ type: "reply", body: { data: "1" } });
    const next = await back.next("dispatch");
    expect(next).toMatchObject({ attempt: 1, from: "vic" });
    back.send({ type: "reply", id: next.id, body: { enc: "json", data: "2" } });
    expect(await outcomeFor("vic", "waiting")).toMatchObject({ type: "reply" });
    back.close();
  });

  it("does not hand a lease orphaned by a reset to another server while its own may come back", async () => {
    const server = await TestServer.connect("claim-3", "w1", 1);
    await queueStub("claim-3").enqueue({
      queue: "claim-3",
      from: "wes",
      requests: [request("held", "claim-3"), request("waiting", "claim-3")],
    });
    const held = await server.next("dispatch");
    await abortAllDurableObjects();
    await server.closed;
    const other = await TestServer.connect("claim-3", "w2", 5);
    const first = await other.next("dispatch");
    expect(first.id).not.toBe(held.id);
    other.send({ type: "reply", id: first.id, body: { enc: "json", data: "1" } });
    expect(await outcomeFor("wes", "waiting")).toMatchObject({ type: "reply" });
    expect(await queueStub("claim-3").stats()).toMatchObject({ leased: 1, queued: 0 });
    // w1 comes back holding nothing: its orphaned lease returns to the queue at once.
    const back = await TestServer.connect("claim-3", "w1", 0);
    back.send({ type: "ready", concurrency: 0 });
    expect(await other.next("dispatch")).toMatchObject({ id: held.id, attempt: 2 });
    back.close();
    other.close();
  });

  it("returns a lease orphaned by a reset to the queue after a short grace, if its server never comes back", async () => {
    const server = await TestServer.connect("claim-5", "w1", 1);
    await queueStub("claim-5").enqueue({
      queue: "claim-5",
      from: "yan",
      requests: [request("held", "claim-5")],
    });
    const held = await server.next("dispatch");
    await abortAllDurableObjects();
    await server.closed;
    const other = await TestServer.connect("claim-5", "w2", 5);
    expect(await queueStub("claim-5").stats()).toMatchObject({ leased: 1, queued: 0 });
    // Not its full lease (30 s, as long as the request's deadline): a short grace to be claimed.
    const leaseUntil = await runInDurableObject(queueStub("claim-5"), (_instance, state) =>
      state.storage.sql.exec("SELECT lease_until FROM requests WHERE state = 'leased'").one(),
    );
    expect(Number(leaseUntil.lease_until)).toBeLessThanOrEqual(Date.now() + ORPHAN_CLAIM_GRACE_MS);
    // Its grace runs out (as if it had passed): the alarm returns it to the queue.
    await runInDurableObject(queueStub("claim-5"), (_instance, state) => {
      state.storage.sql.exec("UPDATE requests SET lease_until = 1 WHERE state = 'leased'");
    });
    await runDurableObjectAlarm(queueStub("claim-5"));
    expect(await other.next("dispatch")).toMatchObject({ id: held.id, attempt: 2 });
    other.close();
  });

  it("gives a lease whose end passed while the relay was down its grace when the alarm wakes the queue", async () => {
    const server = await TestServer.connect("claim-7", "w1", 1);
    await queueStub("claim-7").enqueue({
      queue: "claim-7",
      from: "ada",
      requests: [request("held", "claim-7")],
    });
    const held = await server.next("dispatch");
    await abortAllDurableObjects();
    await server.closed;
    // The relay stayed down past the lease end (its server could not extend meanwhile): the
    // alarm set for that end is what wakes the queue.
    await runInDurableObject(queueStub("claim-7"), (_instance, state) => {
      state.storage.sql.exec(
        "UPDATE requests SET lease_until = ? WHERE state = 'leased'",
        Date.now() - 1,
      );
    });
    await runDurableObjectAlarm(queueStub("claim-7"));
    const row = await runInDurableObject(queueStub("claim-7"), (_instance, state) =>
      state.storage.sql.exec("SELECT state, attempt, lease_until FROM requests").one(),
    );
    expect({ state: row.state, attempt: row.attempt }).toEqual({ state: "leased", attempt: 1 });
    expect(Number(row.lease_until)).toBeGreaterThan(Date.now());
    // Its server comes back with the handler's answer: the same run counts.
    const back = await TestServer.connect("claim-7", "w1", 0);
    back.send([
      { type: "ready", concurrency: 1, holding: [held.id] },
      { type: "reply", id: held.id, body: { enc: "json", data: '"same run"' } },
    ]);
    expect(await outcomeFor("ada", "held")).toMatchObject({ body: { data: '"same run"' } });
    back.close();
  });

  it("claims back a request its closed socket lost when no other server took it: no redelivery", async () => {
    const old = await TestServer.connect("claim-6", "w1");
    await queueStub("claim-6").enqueue({
      queue: "claim-6",
      from: "zoe",
      requests: [request("r", "claim-6")],
    });
    const dispatch = await old.next("dispatch");
    old.close(); // the relay sees it close: the request goes back to the queue
    await old.closed;
    expect(await queueStub("claim-6").stats()).toMatchObject({ leased: 0, queued: 1 });
    const back = await TestServer.connect("claim-6", "w1", 0);
    back.send([
      { type: "ready", concurrency: 10, holding: [dispatch.id] },
      { type: "reply", id: dispatch.id, body: { enc: "json", data: '"same run"' } },
    ]);
    expect(await outcomeFor("zoe", "r")).toMatchObject({ body: { data: '"same run"' } });
    expect(await queueStub("claim-6").stats()).toMatchObject({ leased: 0, queued: 0 });
    back.close();
  });

  it("keeps the leases of a server closed for an expired token (4401) for its claim, with another server idle: no second run", async () => {
    const closeAt = Date.now() + 1000;
    const expiring = await TestServer.connect(
      "claim-7",
      "w1",
      10,
      closeAt - TOKEN_SKEW_SECONDS * 1000,
    );
    await queueStub("claim-7").enqueue({
      queue: "claim-7",
      from: "wes",
      requests: [request("r", "claim-7")],
    });
    const dispatch = await expiring.next("dispatch");
    const idle = await TestServer.connect("claim-7", "w2");
    await sleep(Math.max(0, closeAt - Date.now()) + 50);
    try {
      expiring.send({ type: "extend", id: dispatch.id });
    } catch {
      // The queue's alarm closed it first.
    }
    expect(await expiring.closed).toMatchObject({ code: 4401 });
    // Back at once with a renewed token, its handler still running.
    const back = await TestServer.connect("claim-7", "w1", 0);
    back.send([
      { type: "ready", concurrency: 10, holding: [dispatch.id] },
      { type: "reply", id: dispatch.id, body: { enc: "json", data: '"same run"' } },
    ]);
    expect(await outcomeFor("wes", "r")).toMatchObject({ body: { data: '"same run"' } });
    expect(idle.pending("dispatch")).toEqual([]);
    back.close();
    idle.close();
  });

  it("cancels held ids it may not claim and leaves their leases where they are", async () => {
    const owner = await TestServer.connect("claim-4", "w1");
    await queueStub("claim-4").enqueue({
      queue: "claim-4",
      from: "xia",
      requests: [request("r", "claim-4")],
    });
    const dispatch = await owner.next("dispatch");
    const thief = await TestServer.connect("claim-4", "w2", 0);
    thief.send({ type: "ready", concurrency: 1, holding: [dispatch.id, "999999999"] });
    const cancels = [await thief.next("cancel"), await thief.next("cancel")];
    expect(cancels.map((c) => c.id).sort()).toEqual([dispatch.id, "999999999"].sort());
    thief.send({ type: "reply", id: dispatch.id, body: { enc: "json", data: '"stolen"' } });
    expect(await thief.next("error")).toMatchObject({ id: dispatch.id, code: "forbidden" });
    owner.send({ type: "reply", id: dispatch.id, body: { enc: "json", data: '"mine"' } });
    expect(await outcomeFor("xia", "r")).toMatchObject({ body: { data: '"mine"' } });
    owner.close();
    thief.close();
  });
});

/** Posts HTTP request `id` of `client` to `queue`, then has HTTP server `worker` take it. */
async function postAndTake(queue: string, client: string, worker: string, id: string) {
  const posted = await http(`/v1/queues/${queue}/requests?async=true&timeout=120000`, {
    identity: client,
    contentType: "text/plain",
    body: id,
    headers: { "EdgeMQ-Request-Id": id },
  });
  expect(posted.status).toBe(202);
  const taken = await http(`/v1/queues/${queue}/take?wait=5000`, { identity: worker });
  expect(taken.status).toBe(200);
  await taken.arrayBuffer();
  return taken.headers.get("EdgeMQ-Request-Id") ?? "";
}

/** The lease end (epoch ms) of `queue`'s request `clientId`, which must be leased. */
async function leaseEnd(queue: string, clientId: string): Promise<number> {
  const row = await runInDurableObject(queueStub(queue), (_instance, state) =>
    state.storage.sql
      .exec("SELECT lease_until FROM requests WHERE state = 'leased' AND client_id = ?", clientId)
      .one(),
  );
  return Number(row.lease_until);
}

describe("QueueDO leases of HTTP servers across a reset of every object", () => {
  it("keeps a lease its server extends or answers within a short grace", async () => {
    const id = await postAndTake("http-claim-1", "hc-client", "hc-worker", "hc-1");
    await abortAllDurableObjects();
    // The next call wakes the queue: another server's take finds nothing to take.
    const other = await http("/v1/queues/http-claim-1/take?wait=0", { identity: "hc-other" });
    expect(other.status).toBe(204);
    expect(await leaseEnd("http-claim-1", "hc-1")).toBeLessThanOrEqual(
      Date.now() + ORPHAN_CLAIM_GRACE_MS,
    );
    // Its server still runs the request: its renewal gives it a whole lease again, and it answers.
    const path = `/v1/queues/http-claim-1`;
    const renewed = await http(`${path}/leases/${id}`, { identity: "hc-worker" });
    expect(renewed.status).toBe(204);
    expect(await leaseEnd("http-claim-1", "hc-1")).toBeGreaterThan(
      Date.now() + ORPHAN_CLAIM_GRACE_MS,
    );
    const replied = await http(`${path}/replies/${id}`, { identity: "hc-worker", body: "kept" });
    expect(replied.status).toBe(204);
    const outcome = await http("/v1/requests/hc-1", { method: "GET", identity: "hc-client" });
    expect({ status: outcome.status, body: await outcome.text() }).toEqual({
      status: 200,
      body: "kept",
    });
  });

  it("returns a lease no server knows of (its take's answer lost) to the queue after the grace", async () => {
    const id = await postAndTake("http-claim-2", "hc-client", "hc-lost", "hc-2");
    await abortAllDurableObjects();
    const other = await http("/v1/queues/http-claim-2/take?wait=0", { identity: "hc-other" });
    expect(other.status).toBe(204);
    // Not its whole lease (30 s, which outlasts many a request's deadline): the grace.
    expect(await leaseEnd("http-claim-2", "hc-2")).toBeLessThanOrEqual(
      Date.now() + ORPHAN_CLAIM_GRACE_MS,
    );
    // The grace runs out with no renewal (as if it had passed): the alarm returns it to the queue.
    await runInDurableObject(queueStub("http-claim-2"), (_instance, state) => {
      state.storage.sql.exec("UPDATE requests SET lease_until = 1 WHERE state = 'leased'");
    });
    await runDurableObjectAlarm(queueStub("http-claim-2"));
    const again = await http("/v1/queues/http-claim-2/take?wait=5000", { identity: "hc-other" });
    expect(again.status).toBe(200);
    expect(await again.text()).toBe("hc-2");
    expect(again.headers.get("EdgeMQ-Request-Id")).toBe(id);
    expect(again.headers.get("EdgeMQ-Attempt")).toBe("2");
  });

  it("keeps an HTTP server's whole lease across a hibernation wake, which cuts no answer", async () => {
    const queue = "http-claim-3";
    await postAndTake(queue, "hc-client", "hc-slow", "hc-3");
    const whole = await leaseEnd(queue, "hc-3");
    expect(whole).toBeGreaterThan(Date.now() + ORPHAN_CLAIM_GRACE_MS);
    // A WebSocket server connected: its socket outlives a hibernation, as no restart's does.
    const server = await TestServer.connect(queue, "hc-ws", 1);
    await runInDurableObject(queueStub(queue), async (_instance, state) => {
      // What a wake from hibernation does: a new instance over the same state and sockets.
      const woken = new QueueDO(state, env);
      const [answer] = await woken.enqueue({
        queue,
        from: "hc-other",
        requests: [request("hc-4", queue)],
      });
      expect(answer).toMatchObject({ id: "hc-4", ok: true });
    });
    expect(await server.next("dispatch")).toMatchObject({ from: "hc-other" });
    // Still leased (leaseEnd finds no row otherwise), and to its whole length.
    expect(await leaseEnd(queue, "hc-3")).toBe(whole);
    server.close();
  });
});
