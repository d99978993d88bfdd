/**
 * The QueueDO's ready index (durable-objects/queue/ready-index.ts) does not keep entries for
 * requests that ended while queued: a queue with no server for a long time, whose requests keep
 * expiring or being cancelled, holds an index no larger than what is still queued, and a server
 * that connects afterwards gets the requests still queued, in order. White-box: the index is the
 * object's private state, read through runInDurableObject.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { QueueDO } from "../../durable-objects/queue/queue-do.js";
import { request, TestServer } from "./queue-test-server.js";

const stub = (queue: string) => env.QUEUE.getByName(queue);

interface Internals {
  state: { readyIndex(): { size: number }; store: { liveDepth(): number } };
}

function indexOf(queue: string): Promise<{ index: number; live: number }> {
  return runInDurableObject(stub(queue), (instance: QueueDO) => {
    const { state } = instance as unknown as Internals;
    return { index: state.readyIndex().size, live: state.store.liveDepth() };
  });
}

async function sendOne(queue: string, from: string, id: string, timeout?: number): Promise<void> {
  const options = timeout === undefined ? {} : { timeout };
  await stub(queue).enqueue({ queue, from, requests: [request(id, queue, options)] });
}

describe("the ready index of a queue with no server", () => {
  it("keeps no entries for requests that expired while queued, cycle after cycle", async () => {
    const queue = "ready-expiry";
    const sizes: number[] = [];
    for (let cycle = 0; cycle < 4; cycle++) {
      for (let i = 0; i < 50; i++) await sendOne(queue, `c${cycle}-${i}`, "r", 1);
      await new Promise((resolve) => setTimeout(resolve, 5));
      await runDurableObjectAlarm(stub(queue));
      sizes.push((await indexOf(queue)).index);
    }
    expect(sizes).toEqual([0, 0, 0, 0]);
  });

  it("drops cancelled requests' entries and still serves what is queued once a server comes", async () => {
    const queue = "ready-cancel";
    for (let i = 0; i < 40; i++) {
      await sendOne(queue, `m${i}`, "gone");
      await stub(queue).cancel({ queue, from: `m${i}`, ids: ["gone"] });
    }
    await sendOne(queue, "keeper", "kept");
    const before = await indexOf(queue);
    expect(before.live).toBe(1);
    expect(before.index).toBeLessThanOrEqual(2);

    const server = await TestServer.connect(queue, "w1", 1);
    const dispatch = await server.next("dispatch");
    expect(dispatch.from).toBe("keeper");
    server.close();
  });
});
