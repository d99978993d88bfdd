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

  it("gives two peers different ids (a random prefix each)", () => {
    const a = new RequestIds().take();
    const b = new RequestIds().take();
    expect(a).not.toBe(b);
    expect(a.split(".")[0]).not.toBe(b.split(".")[0]);
  });
});
