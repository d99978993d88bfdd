/**
 * An outcome whose hand-over to the exchange fails stays with the queue, and the alarm calls the
 * exchange again a second after each failure (docs/guarantees.md: "retried every second by the
 * alarm") until a call succeeds. The queue object's exchange calls are wrapped to fail while the
 * test says so; the retries are the object's own alarms, in real time (about 2 s in all).
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { QueueDO } from "../../durable-objects/queue/queue-do.js";
import type { SqlRequestStore } from "../../durable-objects/queue/request-store.js";
import type {
  DeliverAnswer,
  ExchangeRpc,
  Outcome,
} from "../../durable-objects/shared/contracts.js";
import type { Frame } from "../../protocol/index.js";
import { delivered, request, sleep, TestServer } from "./queue-test-server.js";

/** The documented retry interval. */
const RETRY_MS = 1_000;
/** Bounds on the waits below: generous for a loaded machine, still finite. */
const WAIT_MS = 10_000;

type StoreInside = { state: { store: SqlRequestStore } };
type DeliveryInside = { state: { delivery: { exchange: (name: string) => ExchangeRpc } } };

/**
 * Makes queue `queue`'s object call an exchange whose `deliver` fails while `failing()` is true
 * (the object's binding otherwise); counts its deliver calls.
 */
async function unreliableExchange(queue: string, failing: () => boolean): Promise<() => number> {
  let calls = 0;
  await runInDurableObject(env.QUEUE.getByName(queue), (instance) => {
    const delivery = (instance as unknown as DeliveryInside).state.delivery;
    const exchangeOf = delivery.exchange;
    delivery.exchange = (name) => {
      const exchange = exchangeOf(name);
      return {
        deliver(outcomes: Outcome[]): Promise<DeliverAnswer> {
          calls++;
          if (failing()) return Promise.reject(new Error("exchange unreachable"));
          return exchange.deliver(outcomes);
        },
        capStatus: (identity: string) => exchange.capStatus(identity),
      };
    };
  });
  return () => calls;
}

/** When request `id`'s stored outcome is next due for delivery (null once delivered). */
async function deliverAt(queue: string, id: string): Promise<number | null> {
  const row = await runInDurableObject(env.QUEUE.getByName(queue), (_instance, state) =>
    state.storage.sql.exec("SELECT deliver_at FROM requests WHERE client_id = ?", id).one(),
  );
  return row.deliver_at === null ? null : Number(row.deliver_at);
}

/** The outcome the exchange holds for (identity, id), waited for up to WAIT_MS. */
async function reachesExchange(identity: string, id: string): Promise<Frame | undefined> {
  const until = Date.now() + WAIT_MS;
  while (Date.now() < until) {
    const frame = (await delivered(identity)).find((f) => "id" in f && f.id === id);
    if (frame !== undefined) return frame;
    await sleep(20);
  }
  return undefined;
}

describe("outcome delivery to the exchange", { timeout: 30_000 }, () => {
  it("keeps an outcome whose deliver call failed and has the alarm call again a second after each failure, until a call succeeds", async () => {
    const queue = "deliver-retry";
    const from = "dr-alice";
    const stub = env.QUEUE.getByName(queue);
    await stub.enqueue({ queue, from, requests: [request("r1", queue)] });
    let failing = true;
    const calls = await unreliableExchange(queue, () => failing);

    // The client gives up: its `cancelled` outcome goes to the exchange, and the call fails.
    const beforeFirst = Date.now();
    await stub.cancel({ queue, from, ids: ["r1"] });
    const afterFirst = Date.now();
    expect(calls()).toBe(1);
    const firstRetry = await deliverAt(queue, "r1");
    if (firstRetry === null) throw new Error("the outcome was not kept");
    expect(firstRetry).toBeGreaterThanOrEqual(beforeFirst + RETRY_MS);
    expect(firstRetry).toBeLessThanOrEqual(afterFirst + RETRY_MS);

    // The alarm calls again at that time, and fails again: the outcome is due a second later.
    let secondRetry = firstRetry;
    let seenAt = Date.now();
    for (const until = Date.now() + WAIT_MS; secondRetry === firstRetry && Date.now() < until; ) {
      await sleep(20);
      secondRetry = (await deliverAt(queue, "r1")) ?? firstRetry;
      seenAt = Date.now();
    }
    // One call per retry: the events and alarms in between did not call the failing exchange.
    expect(calls()).toBe(2);
    expect(secondRetry).toBeGreaterThanOrEqual(firstRetry + RETRY_MS);
    expect(secondRetry).toBeLessThanOrEqual(seenAt + RETRY_MS);

    // The exchange is back: the next retry hands the outcome over.
    failing = false;
    expect(await reachesExchange(from, "r1")).toMatchObject({
      type: "error",
      id: "r1",
      code: "cancelled",
    });
  });

  it("after a restart, hands a pile of large stored outcomes over a bounded load at a time, each load following the last without waiting for an alarm", async () => {
    const queue = "deliver-big";
    const from = "db-alice";
    const count = 40;
    const stub = env.QUEUE.getByName(queue);
    const server = await TestServer.connect(queue, "db-server", count);
    const ids = Array.from({ length: count }, (_, i) => `big-${i}`);
    await stub.enqueue({ queue, from, requests: ids.map((id) => request(id, queue)) });
    // The exchange stays unreachable for this instance: 40 one-megabyte replies stay stored.
    const calls = await unreliableExchange(queue, () => true);
    const body = { enc: "utf8", data: "x".repeat(1_000_000) };
    for (let i = 0; i < count; i++) {
      const dispatch = await server.next("dispatch");
      server.send({ type: "reply", id: dispatch.id, body });
    }
    while (calls() < count) await sleep(20);
    // A fresh instance over the same storage (as after a restart) finds all 40 (40 MB) due at
    // once: more than one call to the exchange may carry (32 MiB), and more than a Durable
    // Object's memory (128 MB) should hold parsed at once. One alarm starts them all.
    const sizes: number[] = [];
    const replied = () =>
      delivered(from).then((frames) => frames.flatMap((f) => (f.type === "reply" ? [f.id] : [])));
    await runInDurableObject(stub, async (_instance, state) => {
      const now = Date.now();
      state.storage.sql.exec("UPDATE requests SET deliver_at = ? WHERE outcome IS NOT NULL", now);
      const fresh = new QueueDO(state, env);
      // Counts what each of its loads holds (a durable queue keeps this store for good).
      const store = (fresh as unknown as StoreInside).state.store;
      const load = store.dueOutcomes.bind(store);
      store.dueOutcomes = (query) => {
        const found = load(query);
        sizes.push(found.loaded.length);
        return found;
      };
      await fresh.alarm();
      // Its calls to the exchange run in waitUntil: they must end while this callback runs.
      for (const until = Date.now() + WAIT_MS; Date.now() < until; await sleep(50)) {
        if ((await replied()).length >= count) break;
      }
    });
    expect((await replied()).sort()).toEqual([...ids].sort());
    // Each load stopped once it held 8 Mi characters: 9 of these outcomes at most.
    expect(sizes.filter((n) => n > 0).length).toBeGreaterThanOrEqual(Math.ceil(count / 9));
    expect(Math.max(...sizes)).toBeLessThanOrEqual(9);
    server.close();
  });

  it("marks an outcome delivered on its own once its slow call to the exchange ends with no event after it, so a wake does not deliver it again", async () => {
    const queue = "deliver-record";
    const from = "dr-rec";
    const stub = env.QUEUE.getByName(queue);
    const server = await TestServer.connect(queue, "dr-server");
    // The exchange takes 1.5 s to answer: the delivery's safety alarm passes during the call.
    await runInDurableObject(stub, (instance) => {
      const delivery = (instance as unknown as DeliveryInside).state.delivery;
      const exchangeOf = delivery.exchange;
      delivery.exchange = (name) => {
        const exchange = exchangeOf(name);
        return {
          deliver: (outcomes: Outcome[]) => sleep(1_500).then(() => exchange.deliver(outcomes)),
          capStatus: (identity: string) => exchange.capStatus(identity),
        };
      };
    });
    await stub.enqueue({ queue, from, requests: [request("rec-1", queue)] });
    const dispatch = await server.next("dispatch");
    server.send({ type: "reply", id: dispatch.id, body: { enc: "utf8", data: "done" } });
    expect(await reachesExchange(from, "rec-1")).toMatchObject({ type: "reply" });
    const outcome = () =>
      runInDurableObject(stub, (_instance, state) =>
        state.storage.sql.exec("SELECT outcome FROM requests WHERE client_id = 'rec-1'").one(),
      );
    for (const until = Date.now() + 5_000; Date.now() < until; await sleep(100)) {
      if ((await outcome()).outcome === null) break;
    }
    expect((await outcome()).outcome).toBeNull();
    server.close();
  });
});
