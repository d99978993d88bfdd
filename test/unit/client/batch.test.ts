import { describe, expect, it } from "vitest";
import { packMessages } from "../../../client/batch.js";
import { decodeFrames, encodeFrames, type Frame, MAX_BATCH } from "../../../protocol/index.js";

const ack = (n: number): Frame => ({ type: "ack", ids: [`id-${n}`] });

describe("packMessages", () => {
  it("sends a single frame bare and several as the same array encodeFrames makes", () => {
    expect(packMessages([ack(1)], 10_000)).toEqual([encodeFrames([ack(1)])]);
    expect(packMessages([ack(1), ack(2)], 10_000)).toEqual([encodeFrames([ack(1), ack(2)])]);
  });

  it("starts a new message before one would pass the relay's size limit", () => {
    const frames = [ack(1), ack(2), ack(3)];
    const one = encodeFrames([ack(1)]).length;
    const messages = packMessages(frames, 2 * one + 3);
    expect(messages).toHaveLength(2);
    for (const message of messages) expect(message.length).toBeLessThanOrEqual(2 * one + 3);
    const decoded = messages.flatMap((message) => decodeFrames(message));
    expect(decoded.map((result) => (result.ok ? result.value : undefined))).toEqual(frames);
  });

  it("never puts more than MAX_BATCH frames in one message", () => {
    const frames = Array.from({ length: MAX_BATCH + 1 }, (_, n) => ack(n));
    const messages = packMessages(frames, Number.MAX_SAFE_INTEGER);
    expect(messages.map((message) => decodeFrames(message).length)).toEqual([MAX_BATCH, 1]);
  });
});
