import { getEventListeners } from "node:events";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { pendingLimitError, Requester } from "../../../client/requester.js";
import {
  type Body,
  type ClientFrame,
  DEFAULT_LIMITS,
  EdgeMQError,
  encodeBody,
  type RequestFrame,
} from "../../../protocol/index.js";
import { settle } from "./fake-relay.js";

/** A requester whose frames land in `sent`; `state.route` names the route requests take. */
function setup(options: { maxPending?: number; connected?: boolean; maxBodyBytes?: number } = {}) {
  const sent: ClientFrame[] = [];
  const acksOn: { route: string; ids: string[] }[] = [];
  const state = { connected: options.connected ?? true, route: "/v1/connect" };
  const requester = new Requester({
    send: (frame) => {
      if (!state.connected) return undefined;
      sent.push(frame);
      return state.route;
    },
    sendAck: (frame, route) => {
      if (!state.connected) return false;
      sent.push(frame);
      acksOn.push({ route, ids: frame.ids });
      return true;
    },
    limits: () => ({ ...DEFAULT_LIMITS, maxBodyBytes: options.maxBodyBytes ?? 64 }),
    maxPending: options.maxPending ?? 100,
    graceMs: 2_000,
  });
  const requests = () => sent.filter((f): f is RequestFrame => f.type === "request");
  const lastId = () => {
    const id = requests().at(-1)?.id;
    if (id === undefined) throw new Error("no request sent");
    return id;
  };
  return { requester, sent, acksOn, state, requests, lastId };
}

/** A requester whose one request was sent, then aborted (settled `cancelled`, its cancel sent). */
async function aborted() {
  const parts = setup();
  const controller = new AbortController();
  const pending = rejection(parts.requester.request("q", 1, { signal: controller.signal }));
  const id = String(parts.sent.find((frame) => frame.type === "request")?.id);
  controller.abort();
  expect((await pending).code).toBe("cancelled");
  return { ...parts, id };
}

async function rejection(promise: Promise<unknown>): Promise<EdgeMQError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof EdgeMQError) return error;
    throw error;
  }
  throw new Error("expected the promise to reject");
}

/** A value the Body type rules out but a caller without types can pass. */
function untypedBody(value: unknown): Body {
  return value as Body;
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("Requester", () => {
  it("sends a request frame with the encoded body, timeout, failFast and headers", () => {
    const { requester, requests } = setup();
    void requester.request(
      "resize",
      { url: "x" },
      {
        timeout: 5_000,
        failFast: true,
        headers: { trace: "t1" },
      },
    );
    expect(requests()).toEqual([
      {
        type: "request",
        id: expect.any(String),
        queue: "resize",
        body: { enc: "json", data: '{"url":"x"}' },
        timeout: 5_000,
        failFast: true,
        headers: { trace: "t1" },
      },
    ]);
  });

  it("resolves with the first reply and ignores a duplicate, acking both in one frame", async () => {
    const { requester, sent, lastId } = setup();
    const settled = vi.fn();
    const reply = requester.request("q", "hi").then(settled);
    const id = lastId();
    requester.handle({ type: "reply", id, body: encodeBody("one") });
    requester.handle({ type: "reply", id, body: encodeBody("two") });
    await reply;
    await settle();
    expect(settled).toHaveBeenCalledTimes(1);
    expect(settled).toHaveBeenCalledWith("one");
    expect(sent.filter((f) => f.type === "ack")).toEqual([{ type: "ack", ids: [id, id] }]);
  });

  it("returns bytes as bytes and strings as strings", async () => {
    const { requester, lastId } = setup();
    const bytes = requester.request("q", null);
    requester.handle({ type: "reply", id: lastId(), body: encodeBody(new Uint8Array([1, 2, 3])) });
    expect(await bytes).toEqual(new Uint8Array([1, 2, 3]));
  });

  it("rejects with the relay's error code and message on an error frame", async () => {
    const { requester, lastId } = setup();
    const pending = requester.request("q", 1);
    requester.handle({ type: "error", id: lastId(), code: "no_responders", message: "nobody" });
    const error = await rejection(pending);
    expect(error.code).toBe("no_responders");
    expect(error.message).toBe("nobody");
  });

  it("acks an outcome for an id it does not know, so the relay frees its outbox", async () => {
    const { requester, sent } = setup();
    requester.handle({ type: "reply", id: "long-gone", body: encodeBody(null) });
    await settle();
    expect(sent).toEqual([{ type: "ack", ids: ["long-gone"] }]);
  });

  it("rejects with timeout at the local backstop (timeout + grace) when the relay never answers", async () => {
    const { requester } = setup();
    const pending = rejection(requester.request("q", 1, { timeout: 1_000 }));
    await vi.advanceTimersByTimeAsync(2_999);
    expect(requester.size).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect((await pending).code).toBe("timeout");
    expect(requester.size).toBe(0);
  });

  it("rejects a request never sent (disconnected all along) with timeout at its deadline, not at the backstop", async () => {
    const { requester } = setup({ connected: false });
    const pending = rejection(requester.request("q", 1, { timeout: 1_000 }));
    await vi.advanceTimersByTimeAsync(999);
    expect(requester.size).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect((await pending).code).toBe("timeout");
    expect(requester.size).toBe(0);
  });

  it("keeps a request that went out through a reconnect after its deadline, so a reply from the outbox still resolves it within the grace", async () => {
    // The relay produced the reply in time while the client was away; the exchange replays it
    // right after the reconnect's welcome, which is also when the SDK re-sends what is unfinished.
    const { requester, requests, lastId } = setup();
    const pending = requester.request("q", "a", { timeout: 1_000 });
    const id = lastId();
    await vi.advanceTimersByTimeAsync(1_500);
    requester.resend();
    expect(requests()).toHaveLength(1);
    expect(requester.size).toBe(1);
    requester.handle({ type: "reply", id, body: encodeBody("made in time") });
    expect(await pending).toBe("made in time");
  });

  it("still rejects such a request with timeout at its backstop when no outcome comes", async () => {
    const { requester } = setup();
    const pending = rejection(requester.request("q", 1, { timeout: 1_000 }));
    await vi.advanceTimersByTimeAsync(1_500);
    requester.resend();
    await vi.advanceTimersByTimeAsync(1_499);
    expect(requester.size).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect((await pending).code).toBe("timeout");
  });

  it("uses the relay's default timeout for the backstop when none is given", async () => {
    const { requester } = setup();
    const pending = rejection(requester.request("q", 1));
    await vi.advanceTimersByTimeAsync(DEFAULT_LIMITS.defaultTimeoutMs + 1_999);
    expect(requester.size).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect((await pending).code).toBe("timeout");
  });

  it("rejects with cancelled and sends a cancel frame when the signal aborts", async () => {
    const { requester, sent, lastId } = setup();
    const controller = new AbortController();
    const pending = rejection(requester.request("q", 1, { signal: controller.signal }));
    const id = lastId();
    controller.abort();
    expect((await pending).code).toBe("cancelled");
    expect(sent.at(-1)).toEqual({ type: "cancel", id, queue: "q" });
    requester.handle({ type: "reply", id, body: encodeBody("late") });
    expect(requester.size).toBe(0);
  });

  it("rejects with timeout, and still sends the cancel, when the signal timed out (AbortSignal.timeout())", async () => {
    const { requester, sent, lastId } = setup();
    const controller = new AbortController();
    const pending = rejection(requester.request("q", 1, { signal: controller.signal }));
    const id = lastId();
    // The reason AbortSignal.timeout() aborts with.
    const reason = new DOMException("The operation was aborted due to timeout", "TimeoutError");
    controller.abort(reason);
    const error = await pending;
    expect(error.code).toBe("timeout");
    expect(error.cause).toBe(reason);
    expect(sent.at(-1)).toEqual({ type: "cancel", id, queue: "q" });
    const already = await rejection(
      requester.request("q", 2, { signal: AbortSignal.abort(reason) }),
    );
    expect(already.code).toBe("timeout");
  });

  it("holds one abort listener on a signal many unfinished requests share, none once they settle, and cancels them all when it aborts", async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on("warning", onWarning);
    try {
      const { requester, sent, requests } = setup();
      // A program's shutdown signal, passed to every request.
      const shutdown = new AbortController();
      const settled = requester.request("q", 0, { signal: shutdown.signal });
      const pending = Array.from({ length: 50 }, (_, i) =>
        rejection(requester.request("q", i + 1, { signal: shutdown.signal })),
      );
      expect(getEventListeners(shutdown.signal, "abort")).toHaveLength(1);
      const first = requests()[0]?.id ?? "";
      requester.handle({ type: "reply", id: first, body: encodeBody("done") });
      expect(await settled).toBe("done");
      shutdown.abort();
      const errors = await Promise.all(pending);
      expect(errors.map((error) => error.code)).toEqual(pending.map(() => "cancelled"));
      expect(sent.filter((frame) => frame.type === "cancel")).toHaveLength(50);
      expect(requester.size).toBe(0);
      // A signal outliving its requests holds no listener of theirs.
      const later = new AbortController();
      const answered = requester.request("q", "x", { signal: later.signal });
      requester.handle({ type: "reply", id: requests().at(-1)?.id ?? "", body: encodeBody(1) });
      await answered;
      expect(getEventListeners(later.signal, "abort")).toHaveLength(0);
      await vi.advanceTimersByTimeAsync(0);
      expect(warnings.map((warning) => warning.name)).not.toContain("MaxListenersExceededWarning");
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("rejects at once with cancelled, sending nothing, when the signal is already aborted", async () => {
    const { requester, sent } = setup();
    const error = await rejection(requester.request("q", 1, { signal: AbortSignal.abort() }));
    expect(error.code).toBe("cancelled");
    expect(sent).toEqual([]);
  });

  it("rejects a body over maxBodyBytes with too_large without sending it", async () => {
    const { requester, sent } = setup();
    const error = await rejection(requester.request("q", "x".repeat(65)));
    expect(error.code).toBe("too_large");
    expect(sent).toEqual([]);
  });

  it("rejects with too_large, sending nothing, a body within maxBodyBytes that JSON escaping takes past the frame size", async () => {
    const { requester, sent } = setup({ maxBodyBytes: DEFAULT_LIMITS.maxBodyBytes });
    const quotes = '"'.repeat(DEFAULT_LIMITS.maxBodyBytes - 1_000);
    const error = await rejection(requester.request("q", quotes));
    expect(error.code).toBe("too_large");
    expect(error.message).toContain("escaped");
    expect(sent).toEqual([]);
    // The same number of plain characters fits.
    void requester.request("q", "x".repeat(DEFAULT_LIMITS.maxBodyBytes - 1_000)).catch(() => {});
    expect(sent).toHaveLength(1);
  });

  it("rejects with too_many_in_flight once maxPendingRequests requests are unfinished, sending nothing", async () => {
    const { requester, requests } = setup({ maxPending: 2 });
    void requester.request("q", 1).catch(() => {});
    void requester.request("q", 2).catch(() => {});
    const error = await rejection(requester.request("q", 3));
    expect(error.code).toBe("too_many_in_flight");
    expect(error.message).toBe("2 requests are unfinished (maxPendingRequests)");
    expect(requests().map((frame) => frame.body.data)).toEqual(["1", "2"]);
    expect(pendingLimitError(1).message).toBe("1 request is unfinished (maxPendingRequests)");
    requester.resend();
    expect(requests().map((frame) => frame.body.data)).toEqual(["1", "2", "1", "2"]);
  });

  it("rejects a bad queue name with bad_request", async () => {
    const { requester } = setup();
    expect((await rejection(requester.request("no spaces", 1))).code).toBe("bad_request");
  });

  it("re-sends unfinished requests with the same ids, including those made while disconnected", () => {
    const { requester, state, requests } = setup({ connected: false });
    void requester.request("q", "a");
    void requester.request("q", "b");
    expect(requests()).toEqual([]);
    state.connected = true;
    requester.resend();
    expect(requests().map((f) => f.body.data)).toEqual(["a", "b"]);
    const ids = requests().map((f) => f.id);
    requester.resend();
    expect(
      requests()
        .slice(2)
        .map((f) => f.id),
    ).toEqual(ids);
  });

  it("shortens a re-sent request's timeout by the time already spent", async () => {
    const { requester, requests } = setup();
    void requester.request("q", "a", { timeout: 10_000 });
    await vi.advanceTimersByTimeAsync(4_000);
    requester.resend();
    expect(requests().map((f) => f.timeout)).toEqual([10_000, 6_000]);
  });

  it("acks each outcome on the route it arrived on, one ack frame per route", async () => {
    const { requester, acksOn, lastId } = setup();
    void requester.request("q", "a");
    const a = lastId();
    void requester.request("q", "b");
    const b = lastId();
    requester.handle({ type: "reply", id: a, body: encodeBody(1) }, "/v1/queues/q/connect");
    requester.handle({ type: "reply", id: b, body: encodeBody(2) });
    requester.handle({ type: "reply", id: a, body: encodeBody(1) });
    await settle();
    expect(acksOn).toEqual([
      { route: "/v1/queues/q/connect", ids: [a] },
      { route: "/v1/connect", ids: [b, a] },
    ]);
  });

  it("re-sends only the requests the filter selects, telling it the route that last took each", () => {
    const { requester, state, requests } = setup();
    void requester.request("q", "q-via-exchange");
    state.route = "/v1/queues/q/connect";
    void requester.request("q", "q-via-link");
    state.route = "/v1/connect";
    void requester.request("other", "other");
    const seen: [string, string | undefined][] = [];
    requester.resend((frame, route) => {
      seen.push([frame.body.data, route]);
      return frame.queue === "other";
    });
    expect(seen).toEqual([
      ["q-via-exchange", "/v1/connect"],
      ["q-via-link", "/v1/queues/q/connect"],
      ["other", "/v1/connect"],
    ]);
    expect(requests().map((f) => f.body.data)).toEqual([
      "q-via-exchange",
      "q-via-link",
      "other",
      "other",
    ]);
  });

  it("tells the resend filter that a request never sent has no route, and records the route once sent", () => {
    const { requester, state } = setup({ connected: false });
    void requester.request("q", "a");
    const routes: (string | undefined)[] = [];
    const record = (_frame: RequestFrame, route: string | undefined) => {
      routes.push(route);
      return true;
    };
    requester.resend(record);
    state.connected = true;
    requester.resend(record);
    requester.resend(record);
    expect(routes).toEqual([undefined, undefined, "/v1/connect"]);
  });

  it("rejects every unfinished request and every later one after rejectAll", async () => {
    const { requester } = setup();
    const pending = rejection(requester.request("q", 1));
    requester.rejectAll(new EdgeMQError("closed", "peer closed"));
    expect((await pending).code).toBe("closed");
    expect((await rejection(requester.request("q", 2))).code).toBe("closed");
  });

  it("ignores a rate_limited refusal of a re-sent request it already had accepted, and still gets its reply", async () => {
    const { requester, lastId } = setup();
    const pending = requester.request("q", 1);
    const id = lastId();
    requester.handle({ type: "accepted", id, deadline: Date.now() + 30_000 });
    requester.resend();
    requester.handle({ type: "error", id, code: "rate_limited", message: "slow down" });
    requester.handle({ type: "reply", id, body: encodeBody("kept") });
    expect(await pending).toBe("kept");
  });

  it("rejects with rate_limited a request the relay never accepted", async () => {
    const { requester, lastId } = setup();
    const pending = rejection(requester.request("q", 1));
    requester.handle({ type: "error", id: lastId(), code: "rate_limited", message: "slow down" });
    expect((await pending).code).toBe("rate_limited");
  });

  it("keeps unfinished requests after stopAccepting, refuses new ones, and reports idle once they settle", async () => {
    const { requester, lastId } = setup();
    const pending = requester.request("q", 1);
    const id = lastId();
    requester.stopAccepting(new EdgeMQError("closed", "peer closed"));
    expect((await rejection(requester.request("q", 2))).code).toBe("closed");
    let idle = false;
    void requester.idle().then(() => {
      idle = true;
    });
    await settle();
    expect(idle).toBe(false);
    requester.handle({ type: "reply", id, body: encodeBody("done") });
    expect(await pending).toBe("done");
    await settle();
    expect(idle).toBe(true);
  });

  it("does not ack a rate_limited refusal of a re-sent copy, and acks only the reply that ends the request", async () => {
    const { requester, acksOn, lastId } = setup();
    const pending = requester.request("q", 1);
    const id = lastId();
    requester.handle({ type: "accepted", id, deadline: Date.now() + 30_000 });
    requester.resend();
    requester.handle({ type: "error", id, code: "rate_limited", message: "slow down" });
    await settle();
    expect(acksOn).toEqual([]);
    requester.handle({ type: "reply", id, body: encodeBody("kept") });
    expect(await pending).toBe("kept");
    await settle();
    expect(acksOn).toEqual([{ route: "/v1/connect", ids: [id] }]);
  });

  it("does not ack an internal refusal of a re-sent copy, which it sends again later", async () => {
    const { requester, acksOn, requests, lastId } = setup();
    void requester.request("q", 1, { timeout: 20_000 }).catch(() => {});
    const id = lastId();
    requester.handle({ type: "accepted", id, deadline: Date.now() + 20_000 });
    requester.resend();
    requester.handle({ type: "error", id, code: "internal", message: "queue unavailable" });
    await vi.advanceTimersByTimeAsync(5_000);
    expect(acksOn).toEqual([]);
    expect(requests()).toHaveLength(3);
  });

  it("acks an error that ends the request", async () => {
    const { requester, acksOn, lastId } = setup();
    const pending = rejection(requester.request("q", 1));
    const id = lastId();
    requester.handle({ type: "error", id, code: "no_responders", message: "nobody" });
    expect((await pending).code).toBe("no_responders");
    await settle();
    expect(acksOn).toEqual([{ route: "/v1/connect", ids: [id] }]);
  });

  it("sends again later a re-sent copy refused rate_limited though no accepted arrived for the first send, and gets its reply", async () => {
    const { requester, acksOn, requests, lastId } = setup();
    const pending = requester.request("q", 1, { timeout: 20_000 });
    const id = lastId();
    requester.resend();
    requester.handle({ type: "error", id, code: "rate_limited", message: "slow down" });
    await settle();
    expect(requester.size).toBe(1);
    expect(acksOn).toEqual([]);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(requests().map((frame) => frame.id)).toEqual([id, id, id]);
    requester.handle({ type: "reply", id, body: encodeBody("ran") });
    expect(await pending).toBe("ran");
  });

  it("rejects with rate_limited a request whose first send, after a reconnect, is refused", async () => {
    const { requester, state, requests, lastId } = setup({ connected: false });
    const pending = rejection(requester.request("q", 1));
    state.connected = true;
    requester.resend();
    expect(requests()).toHaveLength(1);
    requester.handle({ type: "error", id: lastId(), code: "rate_limited", message: "slow down" });
    expect((await pending).code).toBe("rate_limited");
  });

  it("keeps the cancel of a request aborted while disconnected and sends it first on the next re-sends, until its outcome comes", async () => {
    const { requester, sent, state, lastId } = setup();
    const controller = new AbortController();
    const pending = rejection(requester.request("q", 1, { signal: controller.signal }));
    void requester.request("q", 2).catch(() => {});
    const other = lastId();
    const id = sent.find((frame) => frame.type === "request")?.id;
    state.connected = false;
    controller.abort();
    expect((await pending).code).toBe("cancelled");
    expect(sent.filter((frame) => frame.type === "cancel")).toEqual([]);
    state.connected = true;
    const before = sent.length;
    requester.resend();
    expect(sent.slice(before)).toEqual([
      { type: "cancel", id, queue: "q" },
      expect.objectContaining({ type: "request", id: other }),
    ]);
    requester.resend();
    expect(sent.filter((frame) => frame.type === "cancel")).toHaveLength(2);
    requester.handle({ type: "error", id: String(id), code: "cancelled", message: "cancelled" });
    requester.resend();
    expect(sent.filter((frame) => frame.type === "cancel")).toHaveLength(2);
  });

  it("sends a cancel refused rate_limited again after a backoff, without acking the refusal", async () => {
    const { requester, sent, acksOn, id } = await aborted();
    expect(sent.filter((frame) => frame.type === "cancel")).toHaveLength(1);
    requester.handle({ type: "error", id, code: "rate_limited", message: "retry after 10 ms" });
    await vi.advanceTimersByTimeAsync(6_000);
    expect(sent.filter((frame) => frame.type === "cancel")).toEqual([
      { type: "cancel", id, queue: "q" },
      { type: "cancel", id, queue: "q" },
    ]);
    requester.flushAcks();
    expect(acksOn.flatMap((a) => a.ids)).not.toContain(id);
    // Its outcome comes: acked, and the cancel is done with.
    requester.handle({ type: "error", id, code: "cancelled", message: "cancelled" });
    requester.flushAcks();
    expect(acksOn.flatMap((a) => a.ids)).toContain(id);
    requester.resend();
    expect(sent.filter((frame) => frame.type === "cancel")).toHaveLength(2);
  });

  it("never acks or settles a refusal marked about the cancel, even one it keeps no cancel for", async () => {
    const { requester, sent, acksOn, id } = await aborted();
    // forbidden cannot get better: the cancel is dropped, and the refusal is still no outcome.
    const refusal = {
      type: "error",
      id,
      code: "forbidden",
      message: "no",
      about: "cancel",
    } as const;
    requester.handle(refusal);
    requester.handle(refusal);
    requester.flushAcks();
    expect(acksOn.flatMap((a) => a.ids)).not.toContain(id);
    requester.resend();
    expect(sent.filter((frame) => frame.type === "cancel")).toHaveLength(1);
    // A live request is not ended by one either.
    const live = requester.request("q", 2);
    const liveId = String(sent.filter((frame) => frame.type === "request").at(-1)?.id);
    requester.handle({ ...refusal, id: liveId, code: "rate_limited" });
    // Nor by an `about` this SDK does not know (a newer relay's).
    requester.handle({ ...refusal, id: liveId, about: "something-newer" });
    requester.handle({ type: "reply", id: liveId, body: encodeBody("done") });
    expect(await live).toBe("done");
  });

  it("drops a kept cancel once its request's deadline passed", async () => {
    const { requester, sent, state } = setup();
    const controller = new AbortController();
    const pending = rejection(
      requester.request("q", 1, { timeout: 1_000, signal: controller.signal }),
    );
    state.connected = false;
    controller.abort();
    expect((await pending).code).toBe("cancelled");
    await vi.advanceTimersByTimeAsync(1_000);
    state.connected = true;
    requester.resend();
    expect(sent.filter((frame) => frame.type === "cancel")).toEqual([]);
  });

  it("keeps no cancel for a request aborted before it ever went out", async () => {
    const { requester, sent, state } = setup({ connected: false });
    const controller = new AbortController();
    const pending = rejection(requester.request("q", 1, { signal: controller.signal }));
    controller.abort();
    expect((await pending).code).toBe("cancelled");
    state.connected = true;
    requester.resend();
    expect(sent).toEqual([]);
  });

  it("rejects a body JSON cannot serialise (a BigInt, a cycle) with bad_request, sending nothing", async () => {
    const { requester, sent } = setup();
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const [body, message] of [
      [{ n: 1n }, /^body holds a BigInt/],
      [
        cyclic,
        /^body is not serialisable as JSON: Converting circular structure to JSON.*property .self. closes the circle/s,
      ],
    ] as const) {
      const error = await rejection(requester.request("q", untypedBody(body)));
      expect(error.code).toBe("bad_request");
      expect(error.message).toMatch(message);
    }
    const fn = await rejection(
      requester.request(
        "q",
        untypedBody(() => 1),
      ),
    );
    expect(fn.code).toBe("bad_request");
    expect(fn.message).toMatch(/^body holds a function/);
    expect(sent).toEqual([]);
  });
});
