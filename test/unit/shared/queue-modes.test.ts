import { describe, expect, it } from "vitest";
import { deliveryMode, parseQueueModes } from "../../../durable-objects/shared/queue-modes.js";
import { readSettings } from "../../../durable-objects/shared/settings.js";

describe("EDGEMQ_QUEUE_MODES", () => {
  it("makes every queue durable when unset", () => {
    expect(deliveryMode(parseQueueModes(undefined), "jobs")).toBe("durable");
    expect(deliveryMode(readSettings({}).queueModes, "jobs")).toBe("durable");
  });

  it("matches an exact name only against that name", () => {
    const modes = parseQueueModes("jobs=memory");
    expect(deliveryMode(modes, "jobs")).toBe("memory");
    expect(deliveryMode(modes, "jobs2")).toBe("durable");
  });

  it("matches a trailing star as a prefix, and a lone star as every queue", () => {
    const modes = parseQueueModes("cache-*=memory");
    expect(deliveryMode(modes, "cache-a")).toBe("memory");
    expect(deliveryMode(modes, "cache-")).toBe("memory");
    expect(deliveryMode(modes, "other")).toBe("durable");
    expect(deliveryMode(parseQueueModes("*=memory"), "anything")).toBe("memory");
  });

  it("lets the first matching rule win", () => {
    const modes = parseQueueModes("billing=durable, *=memory");
    expect(deliveryMode(modes, "billing")).toBe("durable");
    expect(deliveryMode(modes, "resize")).toBe("memory");
  });

  it("skips unreadable entries and reports them, keeping the valid ones", () => {
    const modes = parseQueueModes("a=fast,=memory,b*c=memory,noequals, c=memory ,");
    expect(modes.invalid).toEqual(["a=fast", "=memory", "b*c=memory", "noequals"]);
    expect(modes.rules).toEqual([{ pattern: "c", prefix: false, mode: "memory" }]);
  });

  it("reports a pattern no queue name can match (a character queue names never have, over 128)", () => {
    const bad = ["img/thumbs=memory", "cache:*=memory", "my queue=memory", "jobs#1=memory"];
    const long = `${"q".repeat(129)}=memory`;
    const modes = parseQueueModes([...bad, long, "img.thumbs=memory", ".=memory"].join(","));
    expect(modes.invalid).toEqual([...bad, long, ".=memory"]);
    expect(modes.rules).toEqual([{ pattern: "img.thumbs", prefix: false, mode: "memory" }]);
  });

  it("reports a value that is not a string (a TOML table, array or number) rather than ignoring it", () => {
    const settings = readSettings({ EDGEMQ_QUEUE_MODES: { cache: "memory" } });
    expect(settings.misread).toEqual(["EDGEMQ_QUEUE_MODES"]);
    expect(settings.problems[0]).toContain('{\\"cache\\":\\"memory\\"}');
    expect(readSettings({ EDGEMQ_QUEUE_MODES: ["cache-*=memory"] }).misread).toEqual([
      "EDGEMQ_QUEUE_MODES",
    ]);
    expect(readSettings({ EDGEMQ_QUEUE_MODES: 5 }).misread).toEqual(["EDGEMQ_QUEUE_MODES"]);
  });

  it("is read from the environment with the other settings", () => {
    const settings = readSettings({ EDGEMQ_QUEUE_MODES: "fast-*=memory" });
    expect(deliveryMode(settings.queueModes, "fast-1")).toBe("memory");
  });
});
