/**
 * Over the HTTP transport too, a request's last allowed dispatch after a lost lease (attempt >= 2
 * and >= the whoami's maxAttempts, 3 here) runs alone in the whole peer (lone-gate.ts): a take of
 * it waits for the handlers of the peer's other services, and theirs wait for it, taken but not
 * started, their leases renewed. Fake fetch and fake timers.
 */
import { describe, expect, it, vi } from "vitest";
import { connect, type FetchLike, type ServeRequest } from "../../../client/index.js";
import { json, peerUnderFakeTimers, takeHeaders } from "./http-fakes.js";

const BASE = "http://relay.test";

/** A relay of queues `a` and `b`: push() queues a request; takes long-poll for one. */
class FakeRelay {
  readonly paths: string[] = [];
  readonly #queued = new Map<string, { id: string; attempt: number }[]>();
  readonly #polls = new Map<string, (() => void)[]>();

  push(queue: string, id: string, attempt = 1): void {
    this.#queued.set(queue, [...(this.#queued.get(queue) ?? []), { id, attempt }]);
    for (const wake of this.#polls.get(queue)?.splice(0) ?? []) wake();
  }

  /** The ids of the replies posted, in order. */
  replies(): string[] {
    return this.paths.filter((p) => p.includes("/replies/")).map((p) => p.split("/").at(-1) ?? "");
  }

  /** The ids whose leases were renewed. */
  readonly renewed: string[] = [];

  readonly fetch: FetchLike = async (url, init) => {
    const path = url.slice(BASE.length);
    this.paths.push(path);
    if (path === "/v1/whoami") {
      const limits = { leaseMs: 30_000, maxAttempts: 3 };
      return json(200, { identity: "alice", roles: ["server"], limits, features: ["lease"] });
    }
    const queue = path.split("/")[3] ?? "";
    if (path.includes("/take?")) return this.#take(queue, path);
    if (path.includes("/leases")) {
      const ids: string[] = JSON.parse(String(init.body)).ids;
      this.renewed.push(...ids);
      return json(200, { leases: ids.map((id) => ({ id, status: 204, leaseMs: 10_000 })) });
    }
    return new Response(null, { status: 204 });
  };

  async #take(queue: string, path: string): Promise<Response> {
    const wait = Number(new URLSearchParams(path.slice(path.indexOf("?") + 1)).get("wait"));
    if ((this.#queued.get(queue) ?? []).length === 0 && wait > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        const wake = () => {
          clearTimeout(timer);
          resolve();
        };
        this.#polls.set(queue, [...(this.#polls.get(queue) ?? []), wake]);
      });
    }
    const next = this.#queued.get(queue)?.shift();
    if (next === undefined) return new Response(null, { status: 204 });
    const headers = takeHeaders(next.id, {
      "EdgeMQ-Attempt": String(next.attempt),
      "EdgeMQ-Lease-Ms": "10000",
    });
    return new Response("job", { status: 200, headers });
  }
}

const held = peerUnderFakeTimers();

/** A handler whose calls wait until the test finishes them; `started` lists their ids. */
function handlers() {
  const started: string[] = [];
  const finishers = new Map<string, () => void>();
  const handler = (request: ServeRequest) => {
    started.push(request.id);
    return new Promise<string>((resolve) => finishers.set(request.id, () => resolve("ok")));
  };
  const finish = async (id: string) => {
    finishers.get(id)?.();
    await vi.advanceTimersByTimeAsync(10);
  };
  return { started, handler, finish };
}

describe("a lone dispatch, HTTP transport", () => {
  it("waits for the handlers of the peer's other queues, and holds theirs off while it runs", async () => {
    const relay = new FakeRelay();
    const { started, handler, finish } = handlers();
    const repliedAtStart: string[][] = [];
    const watched = (request: ServeRequest) => {
      repliedAtStart.push(relay.replies());
      return handler(request);
    };
    held.peer = await connect(BASE, { transport: "http", identity: "alice", fetch: relay.fetch });
    held.peer.serve("a", watched);
    held.peer.serve("b", watched);
    await vi.advanceTimersByTimeAsync(10);
    relay.push("b", "000000000001");
    await vi.advanceTimersByTimeAsync(10);
    relay.push("a", "000000000002", 3);
    await vi.advanceTimersByTimeAsync(10);
    expect(started).toEqual(["000000000001"]);
    // Its lease is renewed while it waits, as a running request's is.
    await vi.advanceTimersByTimeAsync(5_000);
    expect(relay.renewed).toContain("000000000002");
    await finish("000000000001");
    expect(started).toEqual(["000000000001", "000000000002"]);
    relay.push("b", "000000000003");
    await vi.advanceTimersByTimeAsync(5_000);
    expect(started).toEqual(["000000000001", "000000000002"]);
    expect(relay.renewed).toContain("000000000003");
    await finish("000000000002");
    expect(relay.replies()).toEqual(["000000000001", "000000000002"]);
    expect(started).toEqual(["000000000001", "000000000002", "000000000003"]);
    // The next handler started only once the lone one's reply was posted.
    expect(repliedAtStart[2]).toEqual(["000000000001", "000000000002"]);
    expect(repliedAtStart[1]).toEqual(["000000000001"]);
    await finish("000000000003");
    expect(relay.replies()).toEqual(["000000000001", "000000000002", "000000000003"]);
  });

  it("runs an earlier attempt beside the others", async () => {
    const relay = new FakeRelay();
    const { started, handler, finish } = handlers();
    held.peer = await connect(BASE, { transport: "http", identity: "alice", fetch: relay.fetch });
    held.peer.serve("a", handler);
    held.peer.serve("b", handler);
    await vi.advanceTimersByTimeAsync(10);
    relay.push("b", "000000000001");
    relay.push("a", "000000000002", 2);
    await vi.advanceTimersByTimeAsync(10);
    expect(started).toEqual(["000000000001", "000000000002"]);
    await finish("000000000001");
    await finish("000000000002");
  });
});
