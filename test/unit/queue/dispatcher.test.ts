/**
 * One dispatch pass over a memory store, in Node: a request on its last allowed dispatch after a
 * lost lease runs alone (an idle server, nothing else beside it), waits with a server kept free
 * for it when none is idle, and the rest flow around it.
 */
import { describe, expect, it } from "vitest";
import { type DispatchDeps, dispatchReady } from "../../../durable-objects/queue/dispatcher.js";
import { MemoryRequestStore } from "../../../durable-objects/queue/memory-request-store.js";
import { ReadyIndex } from "../../../durable-objects/queue/ready-index.js";
import type { ServerAttachment } from "../../../durable-objects/queue/server-attachment.js";
import type { LiveServer } from "../../../durable-objects/queue/server-choice.js";
import { DEFAULT_LIMITS, type DispatchFrame, type Frame } from "../../../protocol/index.js";

const NOW = 1_000;
const MAX_ATTEMPTS = 3;

/** A queue in memory, its servers and the dispatches each received. */
class Bench {
  readonly store = new MemoryRequestStore(() => {}, "q");
  readonly servers: LiveServer[] = [];
  readonly got = new Map<string, string[]>();
  private uses = 0;

  server(connId: string, concurrency: number): LiveServer {
    const ws = { connId } as unknown as WebSocket;
    const attachment = { connId } as unknown as ServerAttachment;
    const server: LiveServer = { ws, attachment, connId, concurrency, inFlight: 0, lastUsed: 0 };
    this.servers.push(server);
    this.got.set(connId, []);
    return server;
  }

  /** A queued request from `from`, already dispatched `lost` times (each lease lost). */
  request(from: string, clientId: string, lost = 0): number {
    const rid = this.store.insert({
      clientId,
      from,
      body: { enc: "utf8", data: clientId },
      headers: undefined,
      deadline: NOW + 60_000,
      now: NOW,
      sawServer: true,
    });
    if (rid === undefined) throw new Error("duplicate");
    for (let i = 0; i < lost; i++) {
      this.store.lease(rid, "gone", NOW + 1);
      this.store.requeue(rid);
    }
    return rid;
  }

  /** One dispatch pass over an index built from the store, as after a wake. */
  pass(ready = this.index()): ReadyIndex {
    const deps: DispatchDeps = {
      store: this.store,
      servers: {
        all: () => this.servers,
        markDispatched: (server, alone = false) => {
          server.inFlight++;
          server.lastUsed = ++this.uses;
          if (alone) server.alone = true;
        },
      },
      ready,
      lifecycle: { fail: () => {} },
      outbox: { push: (ws, frame) => this.record(ws, frame) },
      limits: { ...DEFAULT_LIMITS, maxAttempts: MAX_ATTEMPTS },
      queue: "q",
      now: NOW,
    };
    dispatchReady(deps);
    return ready;
  }

  index(): ReadyIndex {
    return ReadyIndex.from(this.store.queued(), (attempt) => attempt >= 1 && attempt + 1 >= 3);
  }

  /** Server `connId` answered `clientId`: its slot (and its alone mark, when empty) frees. */
  answer(connId: string, clientId: string): void {
    const server = this.servers.find((s) => s.connId === connId);
    const rid = this.store.findRid("q-client", clientId);
    if (server === undefined || rid === undefined) throw new Error("no such lease");
    this.store.finish(rid, { type: "reply", id: clientId, body: { enc: "utf8", data: "ok" } }, NOW);
    server.inFlight--;
    if (server.inFlight === 0) server.alone = false;
  }

  private record(ws: WebSocket, frame: Frame): void {
    const connId = String(Reflect.get(ws, "connId"));
    const dispatch = frame as DispatchFrame;
    this.got.get(connId)?.push(`${dispatch.body.data}@${dispatch.attempt}`);
  }
}

describe("dispatchReady", () => {
  it("shares servers as before while no request runs alone", () => {
    const bench = new Bench();
    bench.server("s1", 4);
    for (const id of ["a", "b", "c"]) bench.request("q-client", id, 1);
    bench.pass();
    expect(bench.got.get("s1")).toEqual(["a@2", "b@2", "c@2"]);
  });

  it("puts a request on its last allowed dispatch on an idle server, with nothing beside it", () => {
    const bench = new Bench();
    bench.server("s1", 4);
    bench.server("s2", 4);
    for (const id of ["p", "a", "b"]) bench.request("q-client", id, 2);
    bench.request("q-client", "fresh");
    const ready = bench.pass();
    // p and a run alone on s1 and s2; b waits; fresh waits too: both servers hold one that runs alone.
    expect(bench.got.get("s1")).toEqual(["p@3"]);
    expect(bench.got.get("s2")).toEqual(["a@3"]);
    expect(ready.aloneCount).toBe(1);
    bench.answer("s2", "a");
    bench.pass(ready);
    expect(bench.got.get("s2")).toEqual(["a@3", "b@3"]);
    bench.answer("s2", "b");
    bench.pass(ready);
    expect(bench.got.get("s2")).toEqual(["a@3", "b@3", "fresh@1"]);
    expect(bench.got.get("s1")).toEqual(["p@3"]);
  });

  it("keeps the least loaded server free until it drains, then gives it the request alone", () => {
    const bench = new Bench();
    const busy = bench.server("busy", 4);
    const light = bench.server("light", 4);
    busy.inFlight = 3;
    light.inFlight = 1;
    bench.request("q-client", "last", 2);
    bench.request("q-client", "n1");
    bench.request("q-client", "n2");
    const ready = bench.pass();
    // No idle server: "light" is kept free, so the new requests go to "busy" only.
    expect(bench.got.get("light")).toEqual([]);
    expect(bench.got.get("busy")).toEqual(["n1@1"]);
    bench.request("q-client", "n3");
    ready.add("q-client", bench.store.findRid("q-client", "n3") ?? -1);
    bench.pass(ready);
    expect(bench.got.get("light")).toEqual([]);
    light.inFlight = 0; // its request was answered
    bench.pass(ready);
    expect(bench.got.get("light")).toEqual(["last@3"]);
    expect(light.alone).toBe(true);
    expect(ready.aloneCount).toBe(0);
  });

  it("never sets a first dispatch apart: new requests share a server", () => {
    const bench = new Bench();
    bench.server("s1", 2);
    bench.request("q-client", "a");
    bench.request("q-client", "b");
    bench.pass();
    expect(bench.got.get("s1")).toEqual(["a@1", "b@1"]);
  });
});
