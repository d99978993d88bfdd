import { describe, expect, it } from "vitest";
import {
  DELIVER_CALL_CHARS,
  deliverChunks,
  outcomeChars,
} from "../../../durable-objects/queue/deliver-chunks.js";
import type { Outcome } from "../../../durable-objects/shared/contracts.js";
import type { ReplyFrame } from "../../../protocol/index.js";

function reply(id: string, bodyChars: number, headers?: Record<string, string>): Outcome {
  const frame: ReplyFrame = {
    type: "reply",
    id,
    body: { enc: "utf8", data: "x".repeat(bodyChars) },
  };
  if (headers) frame.headers = headers;
  return { to: "alice", frame };
}

describe("outcomeChars", () => {
  it("counts a reply's body and headers, and an error's message, beside a fixed overhead", () => {
    const bare = outcomeChars(reply("r1", 0));
    expect(outcomeChars(reply("r1", 1_000))).toBe(bare + 1_000);
    expect(outcomeChars(reply("r1", 0, { "x-a": "12345" }))).toBe(bare + 8);
    const error: Outcome = {
      to: "alice",
      frame: { type: "error", id: "r1", code: "timeout", message: "m".repeat(50) },
    };
    expect(outcomeChars(error)).toBeGreaterThanOrEqual(50);
  });
});

describe("deliverChunks", () => {
  it("keeps small outcomes in one call", () => {
    const outcomes = Array.from({ length: 500 }, (_, i) => reply(`r${i}`, 100));
    expect(deliverChunks(outcomes, (o) => o)).toEqual([outcomes]);
  });

  it("splits 60 one-megabyte replies into calls of at most the budget, in order, losing none", () => {
    const outcomes = Array.from({ length: 60 }, (_, i) => reply(`r${i}`, 1_000_000));
    const chunks = deliverChunks(outcomes, (o) => o);
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.flat()).toEqual(outcomes);
    for (const chunk of chunks) {
      const chars = chunk.reduce((sum, o) => sum + outcomeChars(o), 0);
      expect(chars).toBeLessThanOrEqual(DELIVER_CALL_CHARS);
    }
  });

  it("sends an outcome larger than the budget alone rather than never", () => {
    const outcomes = [reply("a", 10), reply("big", 50), reply("b", 10)];
    const chunks = deliverChunks(outcomes, (o) => o, 40);
    expect(chunks.map((c) => c.map((o) => o.frame.id))).toEqual([["a"], ["big"], ["b"]]);
  });
});
