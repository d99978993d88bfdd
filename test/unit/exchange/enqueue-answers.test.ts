import { describe, expect, it } from "vitest";
import {
  answersFor,
  unreachableAnswers,
} from "../../../durable-objects/exchange/enqueue-answers.js";
import { encodeBody, type RequestFrame } from "../../../protocol/index.js";

const requests: RequestFrame[] = ["a", "b", "c"].map((id) => ({
  type: "request",
  id,
  queue: "q",
  body: encodeBody(id),
}));

describe("answersFor", () => {
  it("turns stored requests into accepted frames and refusals into typed errors, in order", () => {
    const answers = answersFor(requests, [
      { id: "b", ok: false, error: { code: "queue_full", message: "full" } },
      { id: "a", ok: true, deadline: 1234 },
      { id: "c", ok: true, deadline: 99 },
    ]);
    expect(answers).toEqual([
      { type: "accepted", id: "a", deadline: 1234 },
      { type: "error", id: "b", code: "queue_full", message: "full" },
      { type: "accepted", id: "c", deadline: 99 },
    ]);
  });

  it("answers a request the queue left out with an internal error instead of silence", () => {
    const answers = answersFor(requests, [{ id: "a", ok: true, deadline: 1 }]);
    expect(answers.map((f) => [f.type, "id" in f ? f.id : undefined])).toEqual([
      ["accepted", "a"],
      ["error", "b"],
      ["error", "c"],
    ]);
    expect(answers[1]).toMatchObject({ code: "internal" });
  });
});

describe("unreachableAnswers", () => {
  it("gives every request of an unreachable queue an internal error naming the queue", () => {
    const answers = unreachableAnswers(requests, "q");
    expect(answers).toHaveLength(3);
    for (const [i, answer] of answers.entries()) {
      expect(answer).toMatchObject({ type: "error", id: requests[i]?.id, code: "internal" });
      expect(answer).toHaveProperty("message", expect.stringContaining("q"));
    }
  });
});
