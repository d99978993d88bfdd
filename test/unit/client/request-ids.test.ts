/** Request ids (client/request-ids.ts): valid on the wire, unique, increasing within a peer. */
import { describe, expect, it } from "vitest";
import { RequestIds } from "../../../client/request-ids.js";
import { isRequestId } from "../../../protocol/index.js";

describe("RequestIds", () => {
  it("gives ids the protocol accepts, each sorting after the one before (so the relay's index grows at its end)", () => {
    const ids = new RequestIds();
    const taken = Array.from({ length: 5_000 }, () => ids.take());
    expect(taken.every(isRequestId)).toBe(true);
    expect(new Set(taken).size).toBe(taken.length);
    expect([...taken].sort()).toEqual(taken);
  });

  it("sorts a later peer's ids after an earlier one's (a client restarted under its identity)", () => {
    // The same millisecond apart from one: random parts alone would order them by chance.
    for (let i = 0; i < 50; i++) {
      const before = new RequestIds(() => 1_764_400_000_000).take();
      const after = new RequestIds(() => 1_764_400_000_001).take();
      expect(after > before).toBe(true);
    }
  });

  it("keeps its ids increasing when the counter runs out and the clock went back", () => {
    let clock = 2_000_000_000_000;
    const ids = new RequestIds(() => clock, 3);
    const first = ids.take();
    clock -= 60_000;
    // Past the counter's last value (36^8 ids; 3 here), a new prefix is made.
    ids.take();
    ids.take();
    const renewed = ids.take();
    expect(renewed.split(".")[0]).not.toBe(first.split(".")[0]);
    expect(renewed > first).toBe(true);
    expect(isRequestId(renewed)).toBe(true);
  });

  it("gives two peers different ids (a random prefix each)", () => {
    const a = new RequestIds().take();
    const b = new RequestIds().take();
    expect(a).not.toBe(b);
    expect(a.split(".")[0]).not.toBe(b.split(".")[0]);
  });
});
