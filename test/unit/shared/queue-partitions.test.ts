import { describe, expect, it } from "vitest";
import { serverPlacement } from "../../../durable-objects/queue/server-placement.js";
import {
  clientQueueObject,
  MAX_PARTITIONS,
  parseQueuePartitions,
  partitionCount,
  partitionOf,
  queueObjectName,
  readPartition,
} from "../../../durable-objects/shared/queue-partitions.js";
import { readSettings } from "../../../durable-objects/shared/settings.js";
import { isQueueName } from "../../../protocol/index.js";

describe("EDGEMQ_QUEUE_PARTITIONS", () => {
  it("gives every queue one partition when unset", () => {
    expect(partitionCount(parseQueuePartitions(undefined), "jobs")).toBe(1);
    expect(partitionCount(readSettings({}).queuePartitions, "jobs")).toBe(1);
  });

  it("matches exact names and trailing-star prefixes, first match winning", () => {
    const parsed = parseQueuePartitions("billing=2, part-*=4, *=8");
    expect(partitionCount(parsed, "billing")).toBe(2);
    expect(partitionCount(parsed, "part-q")).toBe(4);
    expect(partitionCount(parsed, "anything")).toBe(8);
    expect(partitionCount(parseQueuePartitions("jobs=3"), "jobs2")).toBe(1);
  });

  it("skips and reports entries it cannot read, including counts out of 1 to 64", () => {
    const bad = ["jobs", "=4", "jobs=0", `jobs=${MAX_PARTITIONS + 1}`, "a*b=2", "q=two", "q=-1"];
    const parsed = parseQueuePartitions([...bad, "ok=64"].join(","));
    expect(parsed.invalid).toEqual(bad);
    expect(parsed.rules).toEqual([{ pattern: "ok", prefix: false, partitions: 64 }]);
  });

  it("reports a pattern no queue name can match, and a value that is not a string", () => {
    const bad = ["img/thumbs=4", "cache:*=2", "jobs#1=2"];
    expect(parseQueuePartitions([...bad, "img.*=2"].join(",")).invalid).toEqual(bad);
    const settings = readSettings({ EDGEMQ_QUEUE_PARTITIONS: { jobs: 4 } });
    expect(settings.misread).toEqual(["EDGEMQ_QUEUE_PARTITIONS"]);
  });

  it("is read from the environment by readSettings", () => {
    const settings = readSettings({ EDGEMQ_QUEUE_PARTITIONS: "fast-*=4" });
    expect(partitionCount(settings.queuePartitions, "fast-1")).toBe(4);
  });
});

describe("partitionOf", () => {
  it("puts everything in partition 0 when there is one partition", () => {
    expect(partitionOf("alice", 1)).toBe(0);
    expect(partitionOf("bob", 0)).toBe(0);
  });

  it("gives an identity the same partition every time", () => {
    for (const identity of ["alice", "bob", "client-17"]) {
      expect(partitionOf(identity, 4)).toBe(partitionOf(identity, 4));
    }
  });

  it("spreads many identities over every partition, none far from an even share", () => {
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 4_000; i++) {
      const p = partitionOf(`client-${i}`, 4);
      counts[p] = (counts[p] ?? 0) + 1;
    }
    for (const count of counts) {
      expect(count).toBeGreaterThan(800);
      expect(count).toBeLessThan(1_200);
    }
  });
});

describe("queue object names", () => {
  it("names partition 0 like the queue, so one partition is the unpartitioned layout", () => {
    expect(queueObjectName("jobs", 0)).toBe("jobs");
    expect(clientQueueObject(parseQueuePartitions(""), "jobs", "alice")).toBe("jobs");
  });

  it("names other partitions with a # no queue name can contain", () => {
    expect(queueObjectName("jobs", 3)).toBe("jobs#3");
    expect(isQueueName("jobs#3")).toBe(false);
  });

  it("sends a client's requests to the partition its identity hashes to", () => {
    const parsed = parseQueuePartitions("jobs=4");
    const expected = queueObjectName("jobs", partitionOf("alice", 4));
    expect(clientQueueObject(parsed, "jobs", "alice")).toBe(expected);
  });
});

describe("the partition parameter", () => {
  it("is absent, a valid index, or a reason it is refused", () => {
    expect(readPartition(undefined, 4)).toBeUndefined();
    expect(readPartition("3", 4)).toBe(3);
    expect(readPartition("4", 4)).toMatch(/0 to 3/);
    expect(readPartition("-1", 4)).toMatch(/integer/);
    expect(readPartition("1", 1)).toMatch(/0 to 0/);
  });

  it("is written as a take writes it: no leading zeros, no sign, no space", () => {
    expect(readPartition("0", 4)).toBe(0);
    for (const odd of ["01", "00", "+1", " 1", "1 ", "1.0", ""]) {
      expect(readPartition(odd, 4)).toMatch(/integer/);
    }
  });

  it("places a server socket in the partition the front door named", () => {
    const parsed = parseQueuePartitions("jobs=4");
    expect(serverPlacement(parsed, "jobs", "2")).toEqual({ partition: 2, partitions: 4 });
    expect(serverPlacement(parsed, "jobs", null)).toEqual({ partition: 0, partitions: 4 });
    expect(serverPlacement(parsed, "other", "2")).toEqual({ partition: 0, partitions: 1 });
  });
});
