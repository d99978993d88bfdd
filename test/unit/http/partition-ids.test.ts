/** Dispatch ids of partitioned queues over HTTP (src/partition-ids.ts): named on take, routed on answer. */
import { describe, expect, it } from "vitest";
import { answeredId, takenId } from "../../../src/partition-ids.js";
import { codeOf as thrownCode } from "../thrown-code.js";

describe("partitioned dispatch ids", () => {
  it("names the partition in a take's id only when the queue has more than one", () => {
    expect(takenId("000000000007", 0, 1)).toBe("000000000007");
    expect(takenId("000000000007", 0, 2)).toBe("p0.000000000007");
    expect(takenId("000000000007", 3, 4)).toBe("p3.000000000007");
  });

  it("routes an answer by the partition its id names, with or without a matching ?partition=", () => {
    expect(answeredId("p1.000000000007", undefined, 2)).toEqual({
      id: "000000000007",
      partition: 1,
    });
    expect(answeredId("p1.000000000007", "1", 2)).toEqual({ id: "000000000007", partition: 1 });
    expect(answeredId("p0.42", undefined, 1)).toEqual({ id: "42", partition: 0 });
  });

  it("takes a bare id to ?partition=, or to partition 0 of an unpartitioned queue", () => {
    expect(answeredId("000000000007", "1", 2)).toEqual({ id: "000000000007", partition: 1 });
    expect(answeredId("000000000007", undefined, 1)).toEqual({ id: "000000000007", partition: 0 });
  });

  it("refuses with bad_request what could reach the wrong partition", () => {
    // A bare id on a partitioned queue: partition 0 may hold the same row id for another client.
    expect(thrownCode(() => answeredId("000000000007", undefined, 2))).toBe("bad_request");
    expect(thrownCode(() => answeredId("p1.000000000007", "0", 2))).toBe("bad_request");
    expect(thrownCode(() => answeredId("p2.000000000007", undefined, 2))).toBe("bad_request");
    expect(thrownCode(() => answeredId("000000000007", "2", 2))).toBe("bad_request");
  });

  it("refuses a partition written otherwise than a take writes it", () => {
    expect(thrownCode(() => answeredId("p01.000000000007", undefined, 2))).toBe("bad_request");
    expect(thrownCode(() => answeredId("000000000007", "01", 2))).toBe("bad_request");
  });
});
