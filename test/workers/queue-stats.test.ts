/**
 * GET /v1/queues/:queue/stats: requests waiting and in hand, and the servers connected, in all
 * and per partition, for any identity the queue allows; bad names and roles are refused as on
 * every route.
 */
import { describe, expect, it } from "vitest";
import { encodeBody } from "../../protocol/index.js";
import { idOf, TestSocket } from "./exchange-test-socket.js";
import { expectError, http, wsServer } from "./http-test-peer.js";

async function stats(queue: string, identity = "stats-viewer"): Promise<unknown> {
  const response = await http(`/v1/queues/${queue}/stats`, { identity, method: "GET" });
  expect(response.status).toBe(200);
  return response.json();
}

describe("queue stats", () => {
  it("counts requests waiting and in hand, and the servers connected", async () => {
    const queue = "stats-q";
    expect(await stats(queue)).toEqual({
      queue,
      queued: 0,
      leased: 0,
      servers: 0,
      httpServers: false,
      partitions: [{ partition: 0, queued: 0, leased: 0, servers: 0, httpServers: false }],
    });
    const server = await wsServer(queue, "stats-worker", 1);
    const { socket: client } = await TestSocket.client("stats-client");
    for (const id of ["s1", "s2", "s3"]) {
      client.send({ type: "request", id, queue, body: encodeBody(id) });
      await client.next();
    }
    const dispatch = await server.next();
    expect(await stats(queue)).toMatchObject({ queued: 2, leased: 1, servers: 1 });
    server.send({ type: "reply", id: idOf(dispatch), body: encodeBody("ok") });
    await server.next();
    expect(await stats(queue)).toMatchObject({ queued: 1, leased: 1, servers: 1 });
    server.close();
    client.close();
  });

  it("sums a partitioned queue's partitions and lists each, and sees HTTP servers", async () => {
    const queue = "part-stats";
    const take = await http(`/v1/queues/${queue}/take?wait=0`, {
      identity: "stats-http-worker",
      method: "POST",
    });
    expect(take.status).toBe(204);
    const body = (await stats(queue)) as { partitions: unknown[]; httpServers: boolean };
    expect(body.partitions).toHaveLength(2);
    expect(body.httpServers).toBe(true);
  });

  it("refuses a bad queue name with 400", async () => {
    const response = await http("/v1/queues/a%20b/stats", { identity: "x", method: "GET" });
    await expectError(response, 400, "bad_request");
  });
});
