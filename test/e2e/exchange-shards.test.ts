/**
 * E2E: a relay whose client identities are spread over several exchange objects
 * (EDGEMQ_EXCHANGE_SHARDS = 3, docs/settings.md). Every route that has to find an identity's
 * exchange agrees on it: SDK clients on queue links, raw clients on /v1/connect (their outcomes
 * come through their exchange), synchronous and asynchronous HTTP requests read back with GET,
 * and cancels. Identities are picked so that every shard holds some.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type Peer } from "../../client/index.js";
import { exchangeName } from "../../durable-objects/shared/contracts.js";
import { PATHS } from "../../protocol/index.js";
import { useRelay } from "./support/fixture.js";

const SHARDS = 3;
const QUEUE = "sharded";

/** `count` identities named `prefix-<n>`, in turn on shard 0, 1, 2, 0, ... */
function identitiesOnEveryShard(prefix: string, count: number): string[] {
  const byShard = Array.from({ length: SHARDS }, () => [] as string[]);
  for (let n = 0; byShard.some((list) => list.length < count / SHARDS); n++) {
    const identity = `${prefix}-${n}`;
    const shard = Number(exchangeName(identity, SHARDS).split("-")[1]);
    byShard[shard]?.push(identity);
  }
  const picked: string[] = [];
  for (let i = 0; picked.length < count; i++) {
    const list = byShard[i % SHARDS];
    const identity = list?.[Math.floor(i / SHARDS)];
    if (identity !== undefined) picked.push(identity);
  }
  return picked;
}

describe("exchange shards", () => {
  const e2e = useRelay({ vars: { EDGEMQ_EXCHANGE_SHARDS: String(SHARDS) } });
  let server: Peer;

  beforeAll(async () => {
    server = await connect(e2e.relay().url, { identity: "shard-server" });
    const service = server.serve(QUEUE, (req) => ({
      echo: req.body instanceof Uint8Array ? "bytes" : (req.body ?? null),
      from: req.from,
    }));
    await service.ready;
  });

  afterAll(async () => {
    await server?.close();
  });

  it("spreads the test's identities over every shard", () => {
    const shards = new Set(identitiesOnEveryShard("ws", 6).map((i) => exchangeName(i, SHARDS)));
    expect(shards.size).toBe(SHARDS);
  });

  it("routes SDK clients' replies to each identity, on every shard", async () => {
    const clients = await Promise.all(
      identitiesOnEveryShard("ws", 6).map((identity) =>
        connect(e2e.relay().url, { identity }).then((peer) => ({ identity, peer })),
      ),
    );
    try {
      const replies = await Promise.all(
        clients.map(({ identity, peer }) => peer.request(QUEUE, { n: identity })),
      );
      expect(replies).toEqual(
        clients.map(({ identity }) => ({ echo: { n: identity }, from: identity })),
      );
    } finally {
      await Promise.all(clients.map(({ peer }) => peer.close()));
    }
  });

  it("delivers outcomes through each identity's own exchange to raw /v1/connect clients", async () => {
    for (const identity of identitiesOnEveryShard("raw", 3)) {
      const raw = await e2e.raw(PATHS.connect, identity);
      raw.send({ type: "request", id: "r1", queue: QUEUE, body: { enc: "json", data: '"hi"' } });
      const [reply] = await raw.waitFor((f) => f.type === "reply" && f.id === "r1", 1, 15_000);
      expect(reply?.body).toEqual({
        enc: "json",
        data: JSON.stringify({ echo: "hi", from: identity }),
      });
      raw.send({ type: "ack", ids: ["r1"] });
    }
  });

  it("answers HTTP requests, sync and async, and cancels, for identities on every shard", async () => {
    const base = e2e.relay().httpUrl;
    for (const identity of identitiesOnEveryShard("http", 3)) {
      const headers = { "EdgeMQ-Identity": identity, "Content-Type": "application/json" };
      const sync = await fetch(`${base}/v1/queues/${QUEUE}/requests`, {
        method: "POST",
        headers,
        body: '"sync"',
      });
      expect(sync.status).toBe(200);
      expect(await sync.json()).toEqual({ echo: "sync", from: identity });

      const posted = await fetch(`${base}/v1/queues/${QUEUE}/requests?async=true`, {
        method: "POST",
        headers: { ...headers, "EdgeMQ-Request-Id": "later" },
        body: '"async"',
      });
      expect(posted.status).toBe(202);
      const read = await fetch(`${base}/v1/requests/later?wait=10000`, { headers });
      expect(read.status).toBe(200);
      expect(await read.json()).toEqual({ echo: "async", from: identity });

      // Nobody serves this queue: the request waits, and its cancel reaches it.
      const waiting = await fetch(`${base}/v1/queues/sharded-idle/requests?async=true`, {
        method: "POST",
        headers: { ...headers, "EdgeMQ-Request-Id": "dropped" },
        body: '"never"',
      });
      expect(waiting.status).toBe(202);
      const cancel = await fetch(`${base}/v1/queues/sharded-idle/requests/dropped`, {
        method: "DELETE",
        headers,
      });
      expect(cancel.status).toBe(204);
      const cancelled = await fetch(`${base}/v1/requests/dropped?wait=10000`, { headers });
      expect(cancelled.status).toBe(499);
      expect(await cancelled.json()).toMatchObject({ error: { code: "cancelled" } });
    }
  });
});
