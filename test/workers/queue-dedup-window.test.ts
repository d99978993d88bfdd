/**
 * The dedup window of a durable queue (docs/guarantees.md, docs/settings.md
 * EDGEMQ_DEDUP_WINDOW_MS): a finished request's id is remembered until `dedupWindowMs` after its
 * deadline, so a resend within that time is answered as the stored request and not run again;
 * once the window has passed and the alarm's purge ran, the same id is a new request. The
 * request's deadline is moved back in SQLite to stand for the time gone by.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS, encodeBody } from "../../protocol/index.js";
import { outcomeFor, request, TestServer } from "./queue-test-server.js";

const WINDOW = DEFAULT_LIMITS.dedupWindowMs;
const queueStub = (queue: string) => env.QUEUE.getByName(queue);

/** Sets the deadline of `from`'s request `id` to `deadline`, as if that much time had passed. */
async function moveDeadline(queue: string, from: string, id: string, deadline: number) {
  await runInDurableObject(queueStub(queue), (_instance, state) => {
    const q = "UPDATE requests SET deadline = ? WHERE from_identity = ? AND client_id = ?";
    state.storage.sql.exec(q, deadline, from, id);
  });
}

function rowsOf(queue: string, id: string): Promise<Record<string, SqlStorageValue>[]> {
  return runInDurableObject(queueStub(queue), (_instance, state) =>
    state.storage.sql
      .exec("SELECT state, outcome IS NULL AS delivered FROM requests WHERE client_id = ?", id)
      .toArray(),
  );
}

/** No dispatch reached `server` before the answer to a bad frame sent now. */
async function expectNoDispatch(server: TestServer): Promise<void> {
  server.send({ type: "barrier" });
  await server.next("error");
  expect(server.pending("dispatch")).toEqual([]);
}

describe("the dedup window (durable queue)", () => {
  it("answers a resend of a finished request's id as stored within the window, and takes it as new once the window has passed and the purge ran", async () => {
    const queue = "dedup-window";
    const from = "dd-alice";
    const server = await TestServer.connect(queue, "dd-worker", 1);
    const [first] = await queueStub(queue).enqueue({
      queue,
      from,
      requests: [request("r1", queue)],
    });
    expect(first).toMatchObject({ id: "r1", ok: true });
    const dispatch = await server.next("dispatch");
    server.send({ type: "reply", id: dispatch.id, body: encodeBody("done") });
    expect(await outcomeFor(from, "r1")).toMatchObject({ type: "reply", id: "r1" });

    // A minute past its deadline: well inside the window.
    const recent = Date.now() - 60_000;
    await moveDeadline(queue, from, "r1", recent);
    await runDurableObjectAlarm(queueStub(queue));
    expect(await rowsOf(queue, "r1")).toEqual([{ state: "done", delivered: 1 }]);
    const [within] = await queueStub(queue).enqueue({
      queue,
      from,
      requests: [request("r1", queue)],
    });
    expect(within).toEqual({ id: "r1", ok: true, deadline: recent, resent: true });
    await expectNoDispatch(server);

    // Past the window: the alarm's purge forgets the id.
    await moveDeadline(queue, from, "r1", Date.now() - WINDOW - 1_000);
    await runDurableObjectAlarm(queueStub(queue));
    expect(await rowsOf(queue, "r1")).toEqual([]);
    const before = Date.now();
    const [after] = await queueStub(queue).enqueue({
      queue,
      from,
      requests: [request("r1", queue)],
    });
    expect(after).toMatchObject({ id: "r1", ok: true });
    expect(after).not.toHaveProperty("resent");
    expect(after?.ok && after.deadline).toBeGreaterThanOrEqual(before);
    expect(await server.next("dispatch")).toMatchObject({ from, attempt: 1 });
    server.close();
  });
});
