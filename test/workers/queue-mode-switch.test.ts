/**
 * A queue switched from `durable` to `memory` (EDGEMQ_QUEUE_MODES changed by a deploy; the workers
 * project maps `mem-*` to memory) while its SQLite still holds requests: the object stays durable
 * for that start, so those requests are served and answered rather than stranded until their
 * deadline, and it becomes memory-mode on a later start that finds SQLite with nothing unfinished.
 */
import { abortAllDurableObjects, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { encodeBody } from "../../protocol/index.js";
import { TestSocket } from "./exchange-test-socket.js";
import { request, TestServer } from "./queue-test-server.js";

const QUEUE = "mem-switched";

/** What a durable queue wrote before the switch: its name and one waiting request. */
function storeAsDurable(clientId: string, from: string): Promise<unknown> {
  return runInDurableObject(env.QUEUE.getByName(QUEUE), (_instance, state) => {
    const sql = state.storage.sql;
    sql.exec("INSERT OR IGNORE INTO meta (key, value) VALUES ('queue', ?)", QUEUE);
    const now = Date.now();
    const body = JSON.stringify(encodeBody("stored while durable"));
    sql.exec(
      `INSERT INTO requests (client_id, from_identity, body, deadline, created, state, saw_server)
       VALUES (?, ?, ?, ?, ?, 'queued', 1)`,
      clientId,
      from,
      body,
      now + 60_000,
      now,
    );
    return sql.exec("SELECT COUNT(*) AS n FROM requests").one().n;
  });
}

function storedLive(): Promise<unknown> {
  return runInDurableObject(env.QUEUE.getByName(QUEUE), (_instance, state) => {
    const q =
      "SELECT COUNT(*) AS n FROM requests WHERE state IN ('queued', 'leased') OR outcome IS NOT NULL";
    return state.storage.sql.exec(q).one().n;
  });
}

describe("a queue switched from durable to memory", () => {
  it("serves the requests its SQLite still holds, then runs in memory once they are done", async () => {
    expect(await storeAsDurable("old-1", "mem-olga")).toBe(1);
    await abortAllDurableObjects(); // the deploy that switched the queue restarts its object

    const server = await TestServer.connect(QUEUE, "w1");
    const dispatch = await server.next("dispatch");
    expect(dispatch).toMatchObject({ from: "mem-olga", body: encodeBody("stored while durable") });
    server.send({ type: "reply", id: dispatch.id, body: encodeBody("answered") });
    const { socket: olga } = await TestSocket.client("mem-olga");
    for (;;) {
      const frame = await olga.next();
      if (
        typeof frame === "object" &&
        frame !== null &&
        "type" in frame &&
        frame.type === "reply"
      ) {
        expect(frame).toMatchObject({ id: "old-1", body: encodeBody("answered") });
        break;
      }
    }
    olga.send({ type: "ack", ids: ["old-1"] });
    server.close();
    olga.close();
    expect(await storedLive()).toBe(0);

    // The next start finds nothing unfinished: memory mode, nothing written for a new request.
    await abortAllDurableObjects();
    const again = await TestServer.connect(QUEUE, "w2");
    const { socket: pia } = await TestSocket.client("mem-pia");
    pia.send(request("new-1", QUEUE));
    await again.next("dispatch");
    expect(await storedLive()).toBe(0);
    const rows = await runInDurableObject(env.QUEUE.getByName(QUEUE), (_instance, state) => {
      return state.storage.sql
        .exec("SELECT COUNT(*) AS n FROM requests WHERE client_id = 'new-1'")
        .one().n;
    });
    expect(rows).toBe(0);
    pia.close();
    again.close();
  });
});
