/**
 * QueueDO leases in workerd: a lease that runs out without a reply goes back to the queue (its
 * old lessee is told to stop), and `extend` renews only the caller's own leases.
 */

import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { request, TestServer } from "./queue-test-server.js";

const queueStub = (queue: string) => env.QUEUE.getByName(queue);

function leaseUntilOf(queue: string, rid: string): Promise<unknown> {
  return runInDurableObject(queueStub(queue), (_instance, state) => {
    const row = state.storage.sql.exec(
      "SELECT lease_until FROM requests WHERE rid = ?",
      Number(rid),
    );
    return row.one().lease_until;
  });
}

describe("QueueDO leases", () => {
  it("requeues a request whose lease ran out, tells the old lessee to stop, and redelivers once heard from", async () => {
    const server = await TestServer.connect("lease-x", "w1", 1);
    await queueStub("lease-x").enqueue({
      queue: "lease-x",
      from: "sam",
      requests: [request("r", "lease-x")],
    });
    const first = await server.next("dispatch");
    await runInDurableObject(queueStub("lease-x"), (_instance, state) => {
      state.storage.sql.exec("UPDATE requests SET lease_until = 1 WHERE rid = ?", Number(first.id));
    });
    await runDurableObjectAlarm(queueStub("lease-x"));
    expect(await server.next("cancel")).toEqual({ type: "cancel", id: first.id });
    // Silent for a whole lease, it gets nothing more until it is heard from again.
    server.send({ type: "extend", ids: [] });
    expect(await server.next("dispatch")).toMatchObject({ id: first.id, attempt: 2 });
    server.close();
  });

  it("leases every request of one dispatch pass to its server, each until its deadline or the lease's end", async () => {
    await queueStub("lease-pass").enqueue({
      queue: "lease-pass",
      from: "ann",
      requests: [
        request("short", "lease-pass", { timeout: 2_000 }),
        request("long-1", "lease-pass", { timeout: 120_000 }),
        request("long-2", "lease-pass", { timeout: 120_000 }),
      ],
    });
    const server = await TestServer.connect("lease-pass", "w1", 3);
    const ids = [
      (await server.next("dispatch")).id,
      (await server.next("dispatch")).id,
      (await server.next("dispatch")).id,
    ];
    const rows = await runInDurableObject(queueStub("lease-pass"), (_instance, state) =>
      state.storage.sql
        .exec(
          "SELECT client_id, state, lease_conn, lease_until, deadline, attempt FROM requests ORDER BY rid",
        )
        .toArray(),
    );
    expect(rows.map((r) => String(r.client_id))).toEqual(["short", "long-1", "long-2"]);
    expect(new Set(rows.map((r) => r.lease_conn)).size).toBe(1);
    for (const row of rows) expect(row).toMatchObject({ state: "leased", attempt: 1 });
    const [short, long1, long2] = rows.map((r) => ({
      until: Number(r.lease_until),
      deadline: Number(r.deadline),
    }));
    expect(short?.until).toBe(short?.deadline); // the deadline comes before the lease's end
    expect(long1?.until).toBeLessThan(long1?.deadline ?? 0);
    expect(long1?.until).toBe(long2?.until); // one pass, one lease end
    expect(ids).toHaveLength(3);
    server.close();
  });

  it("renews the caller's lease on extend and refuses to extend another's with forbidden", async () => {
    const lessee = await TestServer.connect("lease-y", "w1", 1);
    const other = await TestServer.connect("lease-y", "w2", 0);
    await queueStub("lease-y").enqueue({
      queue: "lease-y",
      from: "tia",
      requests: [request("r", "lease-y")],
    });
    const dispatch = await lessee.next("dispatch");
    // A marker lease end still in the future (so no sweep can expire it meanwhile) but sooner
    // than any extend would set (now + leaseMs).
    const marker = Date.now() + 10_000;
    await runInDurableObject(queueStub("lease-y"), (_instance, state) => {
      state.storage.sql.exec(
        "UPDATE requests SET lease_until = ? WHERE rid = ?",
        marker,
        Number(dispatch.id),
      );
    });
    other.send({ type: "extend", ids: [dispatch.id] });
    expect(await other.next("error")).toMatchObject({ id: dispatch.id, code: "forbidden" });
    expect(await leaseUntilOf("lease-y", dispatch.id)).toBe(marker);
    lessee.send({ type: "extend", ids: [dispatch.id] });
    await expect.poll(() => leaseUntilOf("lease-y", dispatch.id)).toBeGreaterThan(marker);
    lessee.close();
    other.close();
  });
});
