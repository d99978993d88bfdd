/**
 * `POST /v1/queues/{queue}/leases` in workerd: one call extends several leases, answering each id
 * as its one-id route would (204 with the lease left, 404 not this server's, 409 answered or
 * cancelled), in order; on a partitioned queue (`part-*` has 2 here) ids of both partitions go in
 * one call; a body that is not 1 to 1,000 request ids is refused 400, and an id naming a partition
 * past K gets its own 400 entry while the others are extended.
 */
import { describe, expect, it } from "vitest";
import { expectError, http } from "./http-test-peer.js";

interface Entry {
  id: string;
  status: number;
  leaseMs?: number;
  error?: { code: string; message: string };
}

function post(queue: string, identity: string, id: string): Promise<Response> {
  return http(`/v1/queues/${queue}/requests?async=true&timeout=120000`, {
    identity,
    contentType: "text/plain",
    body: id,
    headers: { "EdgeMQ-Request-Id": id },
  });
}

async function takeId(queue: string, identity: string): Promise<string> {
  const taken = await http(`/v1/queues/${queue}/take?wait=5000`, { identity });
  expect(taken.status).toBe(200);
  await taken.arrayBuffer();
  return taken.headers.get("EdgeMQ-Request-Id") ?? "";
}

async function leases(queue: string, identity: string, body: unknown): Promise<Entry[]> {
  const response = await http(`/v1/queues/${queue}/leases`, {
    identity,
    contentType: "application/json",
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(200);
  const answer = (await response.json()) as { leases: Entry[] };
  return answer.leases;
}

describe("lease calls for several requests", () => {
  it("extends each held lease and answers every id as its own route would, in order", async () => {
    for (const id of ["bl-1", "bl-2", "bl-3"]) {
      expect((await post("bl-q", "bl-client", id)).status).toBe(202);
    }
    const [a, b, c] = [
      await takeId("bl-q", "bl-worker"),
      await takeId("bl-q", "bl-worker"),
      await takeId("bl-q", "bl-worker"),
    ];
    const answered = await http(`/v1/queues/bl-q/replies/${c}`, {
      identity: "bl-worker",
      body: "done",
    });
    expect(answered.status).toBe(204);
    const cancelled = await http("/v1/requests/bl-2", { method: "DELETE", identity: "bl-client" });
    expect(cancelled.status).toBe(204);

    const entries = await leases("bl-q", "bl-worker", { ids: [a, "999999", b, c] });
    expect(entries.map((e) => [e.id, e.status, e.error?.code])).toEqual([
      [a, 204, undefined],
      ["999999", 404, "not_found"],
      [b, 409, "conflict"],
      [c, 409, "conflict"],
    ]);
    expect(entries[0]?.leaseMs).toBeGreaterThan(25_000);
    const stranger = await leases("bl-q", "bl-stranger", { ids: [a] });
    expect(stranger.map((e) => [e.status, e.error?.code])).toEqual([[404, "not_found"]]);
  });

  it("takes the ids of both partitions of a partitioned queue in one call", async () => {
    const ids: string[] = [];
    for (let i = 0; ids.length < 2 && i < 40; i++) {
      expect((await post("part-bl", `bl-pclient-${i}`, `bl-p-${i}`)).status).toBe(202);
      const id = await takeId("part-bl", "bl-pworker");
      if (!ids.some((known) => known.slice(0, 3) === id.slice(0, 3))) ids.push(id);
    }
    expect(ids.map((id) => id.slice(0, 3)).sort()).toEqual(["p0.", "p1."]);
    const entries = await leases("part-bl", "bl-pworker", { ids });
    expect(entries.map((e) => [e.id, e.status])).toEqual(ids.map((id) => [id, 204]));
  });

  it("refuses a body that is not 1 to 1,000 request ids with 400", async () => {
    const many = Array.from({ length: 1_001 }, (_, i) => String(i));
    for (const body of [
      "{",
      "[]",
      '{"ids":[]}',
      '{"ids":"1"}',
      '{"ids":[1]}',
      JSON.stringify({ ids: many }),
    ]) {
      const response = await http("/v1/queues/bl-q/leases", {
        identity: "bl-worker",
        contentType: "application/json",
        body,
      });
      await expectError(response, 400, "bad_request");
    }
  });
});

describe("lease calls naming a partition the queue does not have", () => {
  it("refuses that id alone, as its one-id route does, and extends the others", async () => {
    expect((await post("part-bx", "bx-client", "bx-1")).status).toBe(202);
    const held = await takeId("part-bx", "bx-worker");
    const gone = "p3.000000000001";
    const one = await http(`/v1/queues/part-bx/leases/${gone}`, { identity: "bx-worker" });
    await expectError(one, 400, "bad_request");
    const entries = await leases("part-bx", "bx-worker", { ids: [gone, held] });
    expect(entries.map((e) => [e.id, e.status, e.error?.code])).toEqual([
      [gone, 400, "bad_request"],
      [held, 204, undefined],
    ]);
  });

  it("refuses every id of a call whose ?partition= is past K, each as its own route would", async () => {
    const response = await http("/v1/queues/part-bx/leases?partition=3", {
      identity: "bx-worker",
      contentType: "application/json",
      body: JSON.stringify({ ids: ["000000000001", "000000000002"] }),
    });
    expect(response.status).toBe(200);
    const { leases: entries } = (await response.json()) as { leases: Entry[] };
    expect(entries.map((e) => [e.status, e.error?.code])).toEqual([
      [400, "bad_request"],
      [400, "bad_request"],
    ]);
  });
});
