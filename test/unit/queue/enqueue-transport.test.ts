/**
 * An id names one request per identity, whatever carried it: enqueue.ts answers a resend on the
 * same transport as stored, and refuses `conflict` a WebSocket request reusing an HTTP request's
 * id (or the reverse), whose outcome would go to the other sender. A resend is answered as stored
 * even when a limit lowered since would refuse it as new. Over the memory store, in Node.
 */
import { describe, expect, it } from "vitest";
import { EarlyCancels } from "../../../durable-objects/queue/early-cancels.js";
import { type EnqueueDeps, enqueueAll } from "../../../durable-objects/queue/enqueue.js";
import { MemoryRequestStore } from "../../../durable-objects/queue/memory-request-store.js";
import { DEFAULT_LIMITS, encodeBody, type RequestFrame } from "../../../protocol/index.js";

const QUEUE = "jobs";

function deps(
  store: MemoryRequestStore,
  viaHttp: boolean | undefined,
  earlyCancels = new EarlyCancels(),
): EnqueueDeps {
  return {
    store,
    limits: { ...DEFAULT_LIMITS },
    serverConnected: true,
    now: 1_000,
    onStored: () => {},
    viaHttp,
    earlyCancels,
  };
}

function send(
  store: MemoryRequestStore,
  from: string,
  id: string,
  viaHttp: boolean | undefined,
  earlyCancels?: EarlyCancels,
) {
  const request: RequestFrame = { type: "request", id, queue: QUEUE, body: encodeBody("x") };
  const input = { queue: QUEUE, from, requests: [request] };
  return enqueueAll(input, deps(store, viaHttp, earlyCancels))[0];
}

describe("enqueue: one id, one request, whatever the transport", () => {
  it("answers a resend on the transport that stored the request as stored", () => {
    const store = new MemoryRequestStore(() => {}, QUEUE);
    for (const viaHttp of [true, false]) {
      const id = viaHttp ? "h1" : "w1";
      const first = send(store, "alice", id, viaHttp);
      expect(first).toMatchObject({ id, ok: true });
      expect(first).not.toHaveProperty("resent");
      expect(send(store, "alice", id, viaHttp)).toMatchObject({ id, ok: true, resent: true });
    }
  });

  it("refuses conflict a WebSocket request with an HTTP request's id, and the reverse", () => {
    const store = new MemoryRequestStore(() => {}, QUEUE);
    send(store, "alice", "h1", true);
    send(store, "alice", "w1", false);
    const overWs = send(store, "alice", "h1", false);
    expect(overWs).toMatchObject({ id: "h1", ok: false, error: { code: "conflict" } });
    expect(overWs?.ok === false && overWs.error.message).toMatch(/an HTTP request/);
    const overHttp = send(store, "alice", "w1", true);
    expect(overHttp).toMatchObject({ id: "w1", ok: false, error: { code: "conflict" } });
    expect(overHttp?.ok === false && overHttp.error.message).toMatch(/a WebSocket request/);
    // Another identity's same id is another request.
    expect(send(store, "bob", "h1", false)).toMatchObject({ id: "h1", ok: true });
    expect(store.liveDepth()).toBe(3);
  });

  it("never refuses when either side's transport is unknown (a sender or a row from before)", () => {
    const store = new MemoryRequestStore(() => {}, QUEUE);
    send(store, "alice", "u1", undefined);
    expect(send(store, "alice", "u1", true)).toMatchObject({ id: "u1", ok: true, resent: true });
    send(store, "alice", "h1", true);
    expect(send(store, "alice", "h1", undefined)).toMatchObject({
      id: "h1",
      ok: true,
      resent: true,
    });
  });
});

describe("enqueue: a cancel that overtook its request", () => {
  it("refuses the request, and a re-send of it, with cancelled, and stores nothing for it", () => {
    const store = new MemoryRequestStore(() => {}, QUEUE);
    const early = new EarlyCancels();
    early.remember("alice", "r1", 1_000);
    expect(send(store, "alice", "r1", true, early)).toMatchObject({
      id: "r1",
      ok: false,
      error: { code: "cancelled" },
    });
    expect(send(store, "alice", "r1", true, early)).toMatchObject({ ok: false });
    expect(store.findRid("alice", "r1")).toBeUndefined();
    // Another client's request of the same id is its own.
    expect(send(store, "bob", "r1", true, early)).toMatchObject({ id: "r1", ok: true });
  });
});

describe("enqueue: limits lowered after a request was stored", () => {
  it("answers a re-send over the new body limit as stored, and refuses a new one too_large", () => {
    const store = new MemoryRequestStore(() => {}, QUEUE);
    const body = encodeBody("x".repeat(100));
    const frame = (id: string): RequestFrame => ({ type: "request", id, queue: QUEUE, body });
    const enqueue = (id: string, maxBodyBytes: number) => {
      const lowered = { ...deps(store, false), limits: { ...DEFAULT_LIMITS, maxBodyBytes } };
      return enqueueAll({ queue: QUEUE, from: "alice", requests: [frame(id)] }, lowered)[0];
    };
    expect(enqueue("r1", 1_000)).toMatchObject({ id: "r1", ok: true });
    expect(enqueue("r1", 50)).toMatchObject({ id: "r1", ok: true, resent: true });
    const fresh = enqueue("r2", 50);
    expect(fresh).toMatchObject({ id: "r2", ok: false, error: { code: "too_large" } });
    expect(fresh?.ok === false && fresh.error.message).toBe(
      "body is 100 bytes, over the limit of 50",
    );
    expect(store.liveDepth()).toBe(1);
  });
});
