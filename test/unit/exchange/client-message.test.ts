import { describe, expect, it } from "vitest";
import { planClientMessage } from "../../../durable-objects/exchange/client-message.js";
import { DEFAULT_LIMITS, encodeBody, type Limits } from "../../../protocol/index.js";

const limits: Limits = { ...DEFAULT_LIMITS, maxBodyBytes: 16 };

function request(id: string, queue: string, body: unknown = "hi") {
  return { type: "request", id, queue, body: encodeBody(typeof body === "string" ? body : null) };
}

describe("planClientMessage", () => {
  it("groups requests by queue, keeping their order", () => {
    const raw = JSON.stringify([request("a", "q1"), request("b", "q2"), request("c", "q1")]);
    const plan = planClientMessage(raw, limits);
    expect([...plan.enqueues.keys()]).toEqual(["q1", "q2"]);
    expect(plan.enqueues.get("q1")?.map((r) => r.id)).toEqual(["a", "c"]);
    expect(plan.refused).toEqual([]);
  });

  it("answers a request whose cancel comes later in the same message cancelled, enqueuing nothing for it", () => {
    const raw = JSON.stringify([
      request("a", "q1"),
      request("b", "q1"),
      { type: "cancel", id: "a", queue: "q1" },
      { type: "cancel", id: "b", queue: "q2" },
    ]);
    const plan = planClientMessage(raw, limits);
    expect(plan.enqueues.get("q1")?.map((r) => r.id)).toEqual(["b"]);
    expect(plan.refused).toEqual([
      expect.objectContaining({ type: "error", id: "a", code: "cancelled" }),
    ]);
    // The cancels still go to their queues (which then refuse a re-send of the request).
    expect(plan.cancels).toEqual([
      { id: "a", queue: "q1" },
      { id: "b", queue: "q2" },
    ]);
    const alone = planClientMessage(
      JSON.stringify([request("c", "q1"), { type: "cancel", id: "c", queue: "q1" }]),
      limits,
    );
    expect(alone.enqueues.size).toBe(0);
  });

  it("leaves a body over maxBodyBytes to its queue, which knows whether it is a re-send of a stored request", () => {
    const raw = JSON.stringify(request("big", "q", "x".repeat(17)));
    const plan = planClientMessage(raw, limits);
    expect(plan.refused).toEqual([]);
    expect(plan.enqueues.get("q")?.map((r) => r.id)).toEqual(["big"]);
  });

  it("accepts a body exactly at maxBodyBytes", () => {
    const plan = planClientMessage(JSON.stringify(request("ok", "q", "x".repeat(16))), limits);
    expect(plan.enqueues.get("q")?.length).toBe(1);
  });

  it("answers text that is not JSON with one bad_request error and no id", () => {
    const plan = planClientMessage("{nope", limits);
    expect(plan.refused).toEqual([expect.objectContaining({ code: "bad_request" })]);
    expect(plan.refused[0]?.id).toBeUndefined();
  });

  it("answers a binary message with bad_request", () => {
    const plan = planClientMessage(new ArrayBuffer(4), limits);
    expect(plan.refused.map((f) => f.code)).toEqual(["bad_request"]);
  });

  it("keeps good frames of a batch when one of them is malformed", () => {
    const raw = JSON.stringify([request("a", "q"), { type: "request", id: "b", queue: "bad/q" }]);
    const plan = planClientMessage(raw, limits);
    expect(plan.enqueues.get("q")?.map((r) => r.id)).toEqual(["a"]);
    expect(plan.refused).toEqual([expect.objectContaining({ id: "b", code: "bad_request" })]);
  });

  it("counts the frames it could not read: malformed ones and a message over the frame size, not readable frames it refuses", () => {
    const raw = JSON.stringify([
      request("a", "q"),
      { type: "request", id: "b", queue: "bad/q" },
      { type: "nonsense" },
      { type: "reply", id: "r", body: encodeBody("x") },
      request("c", "q", "a body over the sixteen-byte limit"),
    ]);
    expect(planClientMessage(raw, limits).unreadable).toBe(2);
    expect(planClientMessage("{nope", limits).unreadable).toBe(1);
    expect(planClientMessage(new ArrayBuffer(4), limits).unreadable).toBe(1);
    const huge = `[${JSON.stringify(request("d", "q"))},"${"x".repeat(2_000_000)}"]`;
    expect(planClientMessage(huge, limits).unreadable).toBe(1);
  });

  it("refuses frames a client may not send, such as reply or ready, naming no id", () => {
    // An error with an id ends (or refuses) the client's request of that id: a reply's id
    // must not read as one.
    const raw = JSON.stringify([
      { type: "reply", id: "r", body: encodeBody("x") },
      { type: "ready", concurrency: 1 },
    ]);
    const plan = planClientMessage(raw, limits);
    expect(plan.refused).toEqual([
      {
        type: "error",
        code: "bad_request",
        message: "2 frames of this message were refused; the first: reply is not a client frame",
      },
    ]);
  });

  it("refuses a malformed frame with the id of a request, about a cancel, and no id for any other", () => {
    const raw = JSON.stringify([
      { type: "request", id: "a", queue: "bad/q", body: encodeBody("x") },
      { type: "cancel", id: "b", queue: "bad/q" },
      { type: "cancel", id: "c", queue: null },
    ]);
    const plan = planClientMessage(raw, limits);
    expect(plan.refused.map((f) => [f.id, f.code, f.about])).toEqual([
      ["a", "bad_request", undefined],
      ["b", "bad_request", "cancel"],
      ["c", "bad_request", "cancel"],
    ]);
    const foreign = planClientMessage(
      JSON.stringify({ type: "reply", id: "d", body: { enc: "json", data: 1 } }),
      limits,
    );
    expect(foreign.refused).toEqual([
      { type: "error", code: "bad_request", message: expect.stringMatching(/^reply: /) },
    ]);
  });

  it("collects acked ids and cancels that name their queue", () => {
    const raw = JSON.stringify([
      { type: "ack", ids: ["a", "b"] },
      { type: "cancel", id: "c", queue: "q" },
    ]);
    const plan = planClientMessage(raw, limits);
    expect(plan.acks).toEqual(["a", "b"]);
    expect(plan.cancels).toEqual([{ id: "c", queue: "q" }]);
  });

  it("refuses a cancel without a queue with bad_request and the request's id", () => {
    const plan = planClientMessage(JSON.stringify({ type: "cancel", id: "c" }), limits);
    expect(plan.cancels).toEqual([]);
    expect(plan.refused).toEqual([expect.objectContaining({ id: "c", code: "bad_request" })]);
  });

  it("refuses a message longer than the relay's frame size with too_large", () => {
    const small: Limits = { ...limits, maxBodyBytes: 1, maxHeaderBytes: 1 };
    const plan = planClientMessage(" ".repeat(200_000), small);
    expect(plan.refused.map((f) => f.code)).toEqual(["too_large"]);
  });
});
