import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_RATE_LIMIT,
  LIMIT_VARS,
  MAX_BODY_BYTES_CEILING,
  MAX_DURATION_MS,
  readSettings,
  SETTING_NAMES,
} from "../../../durable-objects/shared/settings.js";
import { DEFAULT_LIMITS, maxFrameChars } from "../../../protocol/index.js";

const SETTINGS_DOC = readFileSync(new URL("../../../docs/settings.md", import.meta.url), "utf8");

/** The Default cell of `variable`'s row in docs/settings.md, as a number ("`1048576` (1 MiB)"). */
function documentedDefault(variable: string): number {
  const row = SETTINGS_DOC.split("\n").find((line) => line.startsWith(`| \`${variable}\``));
  const cell = row?.split("|")[2]?.trim() ?? "";
  return Number(/^`([0-9]+)`/.exec(cell)?.[1]);
}

describe("docs/settings.md", () => {
  it("documents every limit's variable with the protocol's default", () => {
    for (const [key, variable] of Object.entries(LIMIT_VARS)) {
      expect(documentedDefault(variable), variable).toBe(
        DEFAULT_LIMITS[key as keyof typeof DEFAULT_LIMITS],
      );
    }
  });

  it("documents the rate limit and shard defaults the relay uses", () => {
    const settings = readSettings({});
    expect(documentedDefault("EDGEMQ_RATE_LIMIT_PER_SECOND")).toBe(DEFAULT_RATE_LIMIT.perSecond);
    expect(documentedDefault("EDGEMQ_RATE_LIMIT_BURST")).toBe(DEFAULT_RATE_LIMIT.burst);
    expect(documentedDefault("EDGEMQ_EXCHANGE_SHARDS")).toBe(settings.exchangeShards);
  });

  it("documents the ceilings the relay caps the body limit and the durations at", () => {
    expect(SETTINGS_DOC).toContain(`${MAX_BODY_BYTES_CEILING.toLocaleString("en-US")} bytes`);
    expect(SETTINGS_DOC).toContain(`(${MAX_DURATION_MS.toLocaleString("en-US")} ms)`);
  });
});

describe("docs/settings.md and the names the relay reads", () => {
  it("documents exactly the settings the relay reads", () => {
    const documented = [...SETTINGS_DOC.matchAll(/`(EDGEMQ_[A-Z_]+)/g)].map((m) => m[1]);
    expect(new Set(documented)).toEqual(new Set(SETTING_NAMES));
  });
});

describe("readSettings: names", () => {
  it("lists an EDGEMQ_ variable that is no setting as a problem, naming the setting it looks like", () => {
    const settings = readSettings({
      EDGEMQ_QUEUE_MODE: "cache-*=memory",
      EDGEMQ_MAX_BODY_SIZE: "1",
    });
    expect(settings.misread).toEqual(["EDGEMQ_QUEUE_MODE", "EDGEMQ_MAX_BODY_SIZE"]);
    expect(settings.problems[0]).toBe(
      "EDGEMQ_QUEUE_MODE is not an EdgeMQ setting (did you mean EDGEMQ_QUEUE_MODES?); docs/settings.md lists them",
    );
    expect(settings.problems[1]).toMatch(/did you mean EDGEMQ_MAX_BODY_BYTES\?/);
    expect(readSettings({ EDGEMQ_COLOUR: "blue" }).problems).toEqual([
      "EDGEMQ_COLOUR is not an EdgeMQ setting; docs/settings.md lists them",
    ]);
  });

  it("reports `--var NAME=value` (a variable named NAME=value) under NAME, never showing the value", () => {
    const settings = readSettings({ "EDGEMQ_SECRET=hunter2-hunter2": "", EDGEMQ_LEASE_MS: "1000" });
    expect(settings.misread).toEqual(["EDGEMQ_SECRET"]);
    expect(settings.problems).toEqual([
      "a variable named EDGEMQ_SECRET=… (value not shown) is no setting: wrangler's --var takes NAME:value, e.g. --var EDGEMQ_SECRET:<value>",
    ]);
  });

  it("lets other variables be, and the names the examples read from their own environment", () => {
    const settings = readSettings({
      MY_APP_FLAG: "1",
      EDGEMQ_URL: "ws://127.0.0.1:8787",
      EDGEMQ_TOKEN: "t",
      EDGEMQ_IDENTITY: "alice",
    });
    expect(settings.problems).toEqual([]);
  });
});

describe("readSettings: EDGEMQ_SECRET_PREVIOUS", () => {
  const NEW = "n".repeat(32);
  const OLD = "o".repeat(32);

  it("takes the secret a rotation replaces beside the new one", () => {
    expect(readSettings({ EDGEMQ_SECRET: NEW, EDGEMQ_SECRET_PREVIOUS: OLD }).problems).toEqual([]);
  });

  it("lists one that is short, alone or the same as the secret, never quoting it", () => {
    const cases = [
      { EDGEMQ_SECRET: NEW, EDGEMQ_SECRET_PREVIOUS: "qzx5" },
      { EDGEMQ_SECRET_PREVIOUS: OLD },
      { EDGEMQ_SECRET: NEW, EDGEMQ_SECRET_PREVIOUS: NEW },
    ];
    for (const vars of cases) {
      const settings = readSettings(vars);
      expect(settings.misread).toEqual(["EDGEMQ_SECRET_PREVIOUS"]);
      expect(settings.problems[0]).toMatch(/^EDGEMQ_SECRET_PREVIOUS /);
      expect(settings.problems.join()).not.toMatch(/qzx5|nnnn|oooo/);
    }
  });
});

describe("readSettings", () => {
  it("uses the protocol's defaults when nothing is set", () => {
    const settings = readSettings({});
    expect(settings.limits).toEqual(DEFAULT_LIMITS);
    expect(settings.exchangeShards).toBe(1);
    expect(settings.devMode).toBe(false);
    expect(settings.problems).toEqual([]);
  });

  it("reads a limit given as a string, as `--var` and quoted TOML values are", () => {
    expect(readSettings({ EDGEMQ_MAX_BODY_BYTES: "262144" }).limits.maxBodyBytes).toBe(262_144);
  });

  it("reads a limit given as a TOML number, which wrangler passes as a number", () => {
    const settings = readSettings({
      EDGEMQ_MAX_BODY_BYTES: 262_144,
      EDGEMQ_EXCHANGE_SHARDS: 4,
      EDGEMQ_RATE_LIMIT_PER_SECOND: 50,
    });
    expect(settings.limits.maxBodyBytes).toBe(262_144);
    expect(settings.exchangeShards).toBe(4);
    expect(settings.rateLimit.perSecond).toBe(50);
  });

  it("lowers the limits the wire codec checks, but never raises them past the codec's", () => {
    const lowered = readSettings({
      EDGEMQ_MAX_CONCURRENCY: "4",
      EDGEMQ_MAX_HEADERS: "2",
      EDGEMQ_MAX_HEADER_BYTES: "100",
    }).limits;
    expect(lowered).toMatchObject({ maxConcurrency: 4, maxHeaders: 2, maxHeaderBytes: 100 });
    const raised = readSettings({
      EDGEMQ_MAX_CONCURRENCY: "5000",
      EDGEMQ_MAX_HEADERS: "64",
      EDGEMQ_MAX_HEADER_BYTES: "65536",
    }).limits;
    expect(raised).toMatchObject({
      maxConcurrency: DEFAULT_LIMITS.maxConcurrency,
      maxHeaders: DEFAULT_LIMITS.maxHeaders,
      maxHeaderBytes: DEFAULT_LIMITS.maxHeaderBytes,
    });
  });

  it("holds the default timeout to the maximum, so a lowered maximum refuses no default request", () => {
    const lowered = readSettings({ EDGEMQ_MAX_TIMEOUT_MS: "10000" }).limits;
    expect(lowered).toMatchObject({ maxTimeoutMs: 10_000, defaultTimeoutMs: 10_000 });
    const both = readSettings({
      EDGEMQ_DEFAULT_TIMEOUT_MS: "60000",
      EDGEMQ_MAX_TIMEOUT_MS: "20000",
    }).limits;
    expect(both).toMatchObject({ maxTimeoutMs: 20_000, defaultTimeoutMs: 20_000 });
    const under = readSettings({ EDGEMQ_DEFAULT_TIMEOUT_MS: "5000" }).limits;
    expect(under).toMatchObject({
      maxTimeoutMs: DEFAULT_LIMITS.maxTimeoutMs,
      defaultTimeoutMs: 5_000,
    });
  });

  it("lists zero, negative, fractional, non-numeric and non-decimal values as problems, naming each", () => {
    for (const value of [0, -5, 1.5, "0", "-5", "1.5", "lots", "0x10", "1e3", "256k", true, null]) {
      const settings = readSettings({ EDGEMQ_MAX_ATTEMPTS: value });
      expect(settings.limits.maxAttempts).toBe(DEFAULT_LIMITS.maxAttempts);
      expect(settings.problems, String(value)).toEqual([
        `EDGEMQ_MAX_ATTEMPTS=${JSON.stringify(String(value))} is not a positive whole number`,
      ]);
    }
    const others = readSettings({ EDGEMQ_EXCHANGE_SHARDS: "two", EDGEMQ_RATE_LIMIT_BURST: "-1" });
    expect(others.problems).toHaveLength(2);
  });

  it("names each setting it cannot read once, apart from the values", () => {
    const settings = readSettings({
      EDGEMQ_QUEUE_MODES: "a=fast,b=slow",
      EDGEMQ_DEV_MODE: "yes",
      EDGEMQ_LEASE_MS: "soon",
    });
    expect(settings.problems).toHaveLength(4);
    expect(settings.misread).toEqual(["EDGEMQ_LEASE_MS", "EDGEMQ_QUEUE_MODES", "EDGEMQ_DEV_MODE"]);
    expect(readSettings({}).misread).toEqual([]);
  });

  it("lists a signing secret under 32 characters as a problem, never quoting it", () => {
    const settings = readSettings({ EDGEMQ_SECRET: "hunter2-hunter2" });
    expect(settings.misread).toEqual(["EDGEMQ_SECRET"]);
    expect(settings.problems).toHaveLength(1);
    expect(settings.problems[0]).toMatch(
      /^EDGEMQ_SECRET is 15 characters: a relay takes 32 or more/,
    );
    expect(settings.problems[0]).not.toContain("hunter2");
    for (const fine of [undefined, "", "x".repeat(32)]) {
      expect(readSettings({ EDGEMQ_SECRET: fine }).problems).toEqual([]);
    }
  });

  it("takes an empty value as unset, with no problem", () => {
    for (const value of ["", " "]) {
      const settings = readSettings({ EDGEMQ_MAX_ATTEMPTS: value, EDGEMQ_DEV_MODE: value });
      expect(settings.limits.maxAttempts).toBe(DEFAULT_LIMITS.maxAttempts);
      expect(settings.problems).toEqual([]);
    }
  });

  it("lists queue mode and partition entries it cannot read as problems", () => {
    const settings = readSettings({
      EDGEMQ_QUEUE_MODES: "cache-*=memroy,fast=memory",
      EDGEMQ_QUEUE_PARTITIONS: "jobs=100,big=4",
    });
    expect(settings.problems).toEqual([
      'EDGEMQ_QUEUE_MODES entry "cache-*=memroy" is not <queue or prefix*>=memory|durable',
      'EDGEMQ_QUEUE_PARTITIONS entry "jobs=100" is not <queue or prefix*>=<1 to 64>',
    ]);
    expect(settings.queueModes.rules).toHaveLength(1);
    expect(settings.queuePartitions.rules).toHaveLength(1);
  });

  it("caps the body limit where a stored request or outcome still fits one SQLite row", () => {
    const settings = readSettings({ EDGEMQ_MAX_BODY_BYTES: "4194304" });
    expect(settings.limits.maxBodyBytes).toBe(MAX_BODY_BYTES_CEILING);
    expect(maxFrameChars(settings.limits)).toBeLessThanOrEqual(2_000_000);
    expect(MAX_BODY_BYTES_CEILING).toBeGreaterThan(DEFAULT_LIMITS.maxBodyBytes);
    expect(settings.problems).toEqual([]);
  });

  it("caps every duration at a year, so no deadline or alarm lands past what the platform takes", () => {
    const huge = String(Number.MAX_SAFE_INTEGER);
    const settings = readSettings({
      EDGEMQ_MAX_TIMEOUT_MS: huge,
      EDGEMQ_DEFAULT_TIMEOUT_MS: huge,
      EDGEMQ_LEASE_MS: huge,
      EDGEMQ_DEDUP_WINDOW_MS: huge,
    });
    expect(settings.limits).toMatchObject({
      maxTimeoutMs: MAX_DURATION_MS,
      defaultTimeoutMs: MAX_DURATION_MS,
      leaseMs: MAX_DURATION_MS,
      dedupWindowMs: MAX_DURATION_MS,
    });
    expect(settings.problems).toEqual([]);
  });

  it("turns dev mode on for the string or the TOML boolean true, and nothing else", () => {
    expect(readSettings({ EDGEMQ_DEV_MODE: "true" }).devMode).toBe(true);
    expect(readSettings({ EDGEMQ_DEV_MODE: true }).devMode).toBe(true);
    for (const value of ["false", false, ""]) {
      const settings = readSettings({ EDGEMQ_DEV_MODE: value });
      expect(settings.devMode).toBe(false);
      expect(settings.problems).toEqual([]);
    }
    for (const value of ["1", 1, "TRUE", "yes"]) {
      const settings = readSettings({ EDGEMQ_DEV_MODE: value });
      expect(settings.devMode).toBe(false);
      expect(settings.problems).toEqual([
        `EDGEMQ_DEV_MODE=${JSON.stringify(String(value))} is not true or false`,
      ]);
    }
  });
});
