import { describe, expect, it } from "vitest";
import { EnqueueBatcher } from "../../../durable-objects/exchange/enqueue-batcher.js";
import type { EnqueueInput, EnqueueOutcome } from "../../../durable-objects/shared/contracts.js";

function input(from: string, id: string): EnqueueInput {
  return {
    queue: "q",
    from,
    requests: [{ type: "request", id, queue: "q", body: { enc: "utf8", data: id } }],
  };
}

/** A fake queue whose calls finish only when the test says so. */
function fakeQueue() {
  const calls: { object: string; inputs: EnqueueInput[]; finish: (fail?: boolean) => void }[] = [];
  const call = (object: string, inputs: EnqueueInput[]) =>
    new Promise<EnqueueOutcome[][]>((resolve, reject) => {
      calls.push({
        object,
        inputs,
        finish: (fail) =>
          fail
            ? reject(new Error("queue down"))
            : resolve(
                inputs.map((i) => i.requests.map((r) => ({ id: r.id, ok: true, deadline: 1 }))),
              ),
      });
    });
  return { calls, batcher: new EnqueueBatcher(call) };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("EnqueueBatcher", () => {
  it("sends a lone request at once", async () => {
    const { calls, batcher } = fakeQueue();
    const answer = batcher.enqueue("q", input("a", "1"));
    expect(calls).toHaveLength(1);
    calls[0]?.finish();
    expect(await answer).toEqual([{ id: "1", ok: true, deadline: 1 }]);
  });

  it("gathers requests that arrive while a call is in flight into one next call, answering each its own", async () => {
    const { calls, batcher } = fakeQueue();
    const first = batcher.enqueue("q", input("a", "1"));
    const second = batcher.enqueue("q", input("b", "2"));
    const third = batcher.enqueue("q", input("c", "3"));
    expect(calls).toHaveLength(1);
    calls[0]?.finish();
    await first;
    await tick();
    expect(calls).toHaveLength(2);
    expect(calls[1]?.inputs.map((i) => i.from)).toEqual(["b", "c"]);
    calls[1]?.finish();
    expect(await second).toEqual([{ id: "2", ok: true, deadline: 1 }]);
    expect(await third).toEqual([{ id: "3", ok: true, deadline: 1 }]);
  });

  it("keeps objects apart: a busy queue object does not hold back another", () => {
    const { calls, batcher } = fakeQueue();
    void batcher.enqueue("q", input("a", "1"));
    void batcher.enqueue("other", input("a", "2"));
    expect(calls.map((c) => c.object)).toEqual(["q", "other"]);
  });

  it("fails only the batch whose call failed, and carries on with the next", async () => {
    const { calls, batcher } = fakeQueue();
    const first = batcher.enqueue("q", input("a", "1"));
    const second = batcher.enqueue("q", input("b", "2"));
    calls[0]?.finish(true);
    await expect(first).rejects.toThrow("queue down");
    await tick();
    calls[1]?.finish();
    expect(await second).toEqual([{ id: "2", ok: true, deadline: 1 }]);
  });
});

describe("EnqueueBatcher when the call cannot even start", () => {
  it("rejects the whole batch instead of waiting forever", async () => {
    const batcher = new EnqueueBatcher(() => {
      throw new Error("no stub");
    });
    await expect(batcher.enqueue("q", input("a", "1"))).rejects.toThrow("no stub");
  });

  it("settles a queue's wait only after every request handed over before it has its answer", async () => {
    const { calls, batcher } = fakeQueue();
    const first = batcher.enqueue("q", input("a", "1")); // in flight
    const second = batcher.enqueue("q", input("b", "2")); // waiting for the next call
    let done = false;
    const settled = batcher.settled("q").then(() => {
      done = true;
    });
    await tick();
    expect(done).toBe(false);
    calls[0]?.finish();
    await first;
    await tick();
    expect(done).toBe(false); // the waiting request went in a second call, still in flight
    calls[1]?.finish(true);
    await expect(second).rejects.toThrow("queue down");
    await settled;
    expect(done).toBe(true);
    await batcher.settled("other"); // nothing handed over: at once
  });
});
