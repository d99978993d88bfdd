/**
 * Relay settings: the protocol's default limits, overridden per deployment by `EDGEMQ_*`
 * variables (wrangler.toml [vars], or `--var` with wrangler dev). Read once per object. A value
 * that cannot be read is not replaced by its default: it is listed in `problems`, and the front
 * door refuses every call while any is listed (misconfigured.ts), so a typo shows at once; so is
 * an `EDGEMQ_*` variable that is no setting (a misspelt name).
 */
import { DEFAULT_LIMITS, type Limits, secretProblem } from "../../protocol/index.js";
import { parseQueueModes, type QueueModes } from "./queue-modes.js";
import { MAX_PARTITIONS, parseQueuePartitions, type QueuePartitions } from "./queue-partitions.js";
import type { RateLimit } from "./token-bucket.js";

/** Per-identity request rate (token bucket, token-bucket.ts); not a protocol limit. */
export const DEFAULT_RATE_LIMIT: Readonly<RateLimit> = { perSecond: 100, burst: 200 };

export interface RelaySettings {
  limits: Limits;
  /** Number of exchange objects identities are spread over (EDGEMQ_EXCHANGE_SHARDS). */
  exchangeShards: number;
  /** Peers declare their identity, no token needed (EDGEMQ_DEV_MODE=true; `npm start` only). */
  devMode: boolean;
  /** EDGEMQ_RATE_LIMIT_PER_SECOND and EDGEMQ_RATE_LIMIT_BURST. */
  rateLimit: RateLimit;
  /** Per-queue delivery modes (EDGEMQ_QUEUE_MODES; queue-modes.ts). */
  queueModes: QueueModes;
  /** Per-queue partition counts (EDGEMQ_QUEUE_PARTITIONS; queue-partitions.ts). */
  queuePartitions: QueuePartitions;
  /** One line per value that could not be read, quoting it (for the log); empty when sound. */
  problems: string[];
  /**
   * The names of the settings in `problems`, each once: what a caller is told, since a value
   * may be something the operator would not publish.
   */
  misread: string[];
}

/** Collects the values that could not be read: a line on each, and the settings' names. */
class Problems {
  readonly lines: string[] = [];
  private readonly names = new Set<string>();

  add(setting: string, line: string): void {
    this.lines.push(line);
    this.names.add(setting);
  }

  get settings(): string[] {
    return [...this.names];
  }
}

/** The environment variables that map to limits. */
export const LIMIT_VARS: Readonly<Record<keyof Limits, string>> = {
  maxBodyBytes: "EDGEMQ_MAX_BODY_BYTES",
  defaultTimeoutMs: "EDGEMQ_DEFAULT_TIMEOUT_MS",
  maxTimeoutMs: "EDGEMQ_MAX_TIMEOUT_MS",
  maxQueueDepth: "EDGEMQ_MAX_QUEUE_DEPTH",
  maxInFlightPerClient: "EDGEMQ_MAX_IN_FLIGHT_PER_CLIENT",
  maxAttempts: "EDGEMQ_MAX_ATTEMPTS",
  maxConcurrency: "EDGEMQ_MAX_CONCURRENCY",
  maxHeaders: "EDGEMQ_MAX_HEADERS",
  maxHeaderBytes: "EDGEMQ_MAX_HEADER_BYTES",
  leaseMs: "EDGEMQ_LEASE_MS",
  dedupWindowMs: "EDGEMQ_DEDUP_WINDOW_MS",
};

/** Every setting the relay reads besides the limits. */
const OTHER_VARS = [
  "EDGEMQ_EXCHANGE_SHARDS",
  "EDGEMQ_DEV_MODE",
  "EDGEMQ_SECRET",
  "EDGEMQ_SECRET_PREVIOUS",
  "EDGEMQ_RATE_LIMIT_PER_SECOND",
  "EDGEMQ_RATE_LIMIT_BURST",
  "EDGEMQ_QUEUE_MODES",
  "EDGEMQ_QUEUE_PARTITIONS",
] as const;

/** The relay's settings, by name. */
export const SETTING_NAMES: readonly string[] = [...Object.values(LIMIT_VARS), ...OTHER_VARS];

/**
 * Names the SDK's examples read from their own environment (examples/README.md), not settings:
 * a relay that finds them (wrangler dev also loads a `.env` file) lets them be.
 */
const PEER_VARS: readonly string[] = ["EDGEMQ_URL", "EDGEMQ_TOKEN", "EDGEMQ_IDENTITY"];

/**
 * Lists each `EDGEMQ_*` variable that is no setting (a typo such as EDGEMQ_QUEUE_MODE or
 * EDGEMQ_MAX_BODY_SIZE) as a problem, naming the setting it most looks like: ignored, it would
 * leave the relay on a default the operator meant to change.
 */
function unknownSettings(vars: Record<string, unknown>, problems: Problems): void {
  for (const name of Object.keys(vars)) {
    if (!name.startsWith("EDGEMQ_") || SETTING_NAMES.includes(name) || PEER_VARS.includes(name)) {
      continue;
    }
    const equals = name.indexOf("=");
    if (equals > 0) {
      // `--var NAME=value` names a variable "NAME=value": report the name, never the value
      // (it may be a secret), and how --var wants it.
      const meant = name.slice(0, equals);
      const line = `a variable named ${meant}=… (value not shown) is no setting: wrangler's --var takes NAME:value, e.g. --var ${meant}:<value>`;
      problems.add(meant, line);
      continue;
    }
    const near = nearestSetting(name);
    const hint = near === undefined ? "" : ` (did you mean ${near}?)`;
    problems.add(name, `${name} is not an EdgeMQ setting${hint}; docs/settings.md lists them`);
  }
}

/** The setting nearest `name`, if within a few edits (a quarter of its length, at least 3). */
function nearestSetting(name: string): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(3, Math.floor(name.length / 4)) + 1;
  for (const setting of SETTING_NAMES) {
    const distance = editDistance(name, setting);
    if (distance < bestDistance) {
      best = setting;
      bestDistance = distance;
    }
  }
  return best;
}

/** Levenshtein distance (names are short: a row at a time). */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(
        Math.min((previous[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost),
      );
    }
    previous = row;
  }
  return previous[b.length] ?? 0;
}

/** Limits the wire codec checks at their default values: settings can only lower them. */
const CODEC_BOUNDED = ["maxConcurrency", "maxHeaders", "maxHeaderBytes"] as const;

/**
 * The largest body a relay may allow: a durable queue stores a request, and the exchange an
 * outcome, in one SQLite row, which Cloudflare caps at about 2 MB, and the longest frame such a
 * body makes (maxFrameChars, binary bodies in base64) must fit in one. A larger setting is capped.
 */
export const MAX_BODY_BYTES_CEILING = Math.floor(
  ((2_000_000 - DEFAULT_LIMITS.maxHeaderBytes - 64 * 1024) * 3) / 4,
);

/**
 * The longest duration setting (timeouts, lease, dedup window): a year. A larger one is capped,
 * because an alarm past the year 2189 is refused by the platform, and no request waits a year.
 */
export const MAX_DURATION_MS = 365 * 24 * 60 * 60_000;

/** Limits a setting may raise only this far. */
const CEILINGS: Partial<Record<keyof Limits, number>> = {
  maxBodyBytes: MAX_BODY_BYTES_CEILING,
  defaultTimeoutMs: MAX_DURATION_MS,
  maxTimeoutMs: MAX_DURATION_MS,
  leaseMs: MAX_DURATION_MS,
  dedupWindowMs: MAX_DURATION_MS,
};

/**
 * A positive whole number, given as a string of digits (`"1000"`, `--var`) or as a TOML number
 * (`1000`: wrangler passes [vars] numbers to the Worker as numbers). Unset or empty is the
 * fallback; anything else that is not such a number is a problem, and the fallback stands in.
 */
function readPositiveInt(
  name: string,
  value: unknown,
  fallback: number,
  problems: Problems,
): number {
  if (value === undefined || (typeof value === "string" && value.trim() === "")) return fallback;
  const n =
    typeof value === "number"
      ? value
      : typeof value === "string" && /^[0-9]+$/.test(value.trim())
        ? Number(value.trim())
        : Number.NaN;
  if (Number.isSafeInteger(n) && n > 0) return n;
  problems.add(name, `${name}=${quote(value)} is not a positive whole number`);
  return fallback;
}

/** `true` as a string (`--var`, a quoted TOML value) or as a TOML boolean; `false` or unset is off. */
function readFlag(name: string, value: unknown, problems: Problems): boolean {
  const text = typeof value === "string" ? value.trim() : value;
  if (text === true || text === "true") return true;
  if (text === undefined || text === false || text === "false" || text === "") return false;
  problems.add(name, `${name}=${quote(value)} is not true or false`);
  return false;
}

/** A setting's value as it appears in a problem line, cut short. */
function quote(value: unknown): string {
  return JSON.stringify(typeof value === "string" ? value.slice(0, 100) : String(value));
}

/** Settings per `env` object: the front door reads them on every HTTP call, env never changes. */
const parsed = new WeakMap<object, RelaySettings>();

/** Reads settings from a Worker/DO `env` once; a value it cannot read is listed in `problems`. */
export function readSettings(env: object): RelaySettings {
  let settings = parsed.get(env);
  if (settings === undefined) {
    settings = parseSettings(env);
    parsed.set(env, settings);
  }
  return settings;
}

/**
 * EDGEMQ_SECRET under 32 characters, and EDGEMQ_SECRET_PREVIOUS (the secret a rotation replaces,
 * identity.ts) that is as weak, stands alone or repeats the secret. Never quoted: a secret is not
 * for logs. Unset or empty is no secret (misconfigured.ts).
 */
function secretProblems(vars: Record<string, unknown>, problems: Problems): void {
  const secret = vars.EDGEMQ_SECRET;
  const weak = typeof secret === "string" && secret !== "" ? secretProblem(secret) : undefined;
  if (weak !== undefined) problems.add("EDGEMQ_SECRET", weak);
  const previous = vars.EDGEMQ_SECRET_PREVIOUS;
  if (typeof previous !== "string" || previous === "") return;
  const weakPrevious = secretProblem(previous);
  if (weakPrevious !== undefined) {
    const line = weakPrevious.replace(/^EDGEMQ_SECRET\b/, "EDGEMQ_SECRET_PREVIOUS");
    problems.add("EDGEMQ_SECRET_PREVIOUS", line);
  } else if (typeof secret !== "string" || secret === "") {
    problems.add(
      "EDGEMQ_SECRET_PREVIOUS",
      "EDGEMQ_SECRET_PREVIOUS is set without EDGEMQ_SECRET: set the new secret in EDGEMQ_SECRET, the one it replaces in EDGEMQ_SECRET_PREVIOUS",
    );
  } else if (previous === secret) {
    problems.add("EDGEMQ_SECRET_PREVIOUS", "EDGEMQ_SECRET_PREVIOUS is the same as EDGEMQ_SECRET");
  }
}

function parseSettings(env: object): RelaySettings {
  const vars = env as Record<string, unknown>;
  const problems = new Problems();
  const int = (name: string, fallback: number) =>
    readPositiveInt(name, vars[name], fallback, problems);
  const limits: Limits = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(LIMIT_VARS) as (keyof Limits)[]) {
    limits[key] = Math.min(
      int(LIMIT_VARS[key], DEFAULT_LIMITS[key]),
      CEILINGS[key] ?? Number.POSITIVE_INFINITY,
    );
  }
  // The wire codec bounds these at their defaults whatever the settings say (protocol/codec.ts,
  // validate.ts): a larger setting would announce a limit the relay does not honour.
  for (const key of CODEC_BOUNDED) limits[key] = Math.min(limits[key], DEFAULT_LIMITS[key]);
  // A default above the maximum would refuse every request that gives no `timeout`.
  limits.defaultTimeoutMs = Math.min(limits.defaultTimeoutMs, limits.maxTimeoutMs);
  const queueModes = parseQueueModes(vars.EDGEMQ_QUEUE_MODES);
  const queuePartitions = parseQueuePartitions(vars.EDGEMQ_QUEUE_PARTITIONS);
  for (const entry of queueModes.invalid) {
    problems.add(
      "EDGEMQ_QUEUE_MODES",
      `EDGEMQ_QUEUE_MODES entry ${quote(entry)} is not <queue or prefix*>=memory|durable`,
    );
  }
  for (const entry of queuePartitions.invalid) {
    problems.add(
      "EDGEMQ_QUEUE_PARTITIONS",
      `EDGEMQ_QUEUE_PARTITIONS entry ${quote(entry)} is not <queue or prefix*>=<1 to ${MAX_PARTITIONS}>`,
    );
  }
  secretProblems(vars, problems);
  const exchangeShards = int("EDGEMQ_EXCHANGE_SHARDS", 1);
  const devMode = readFlag("EDGEMQ_DEV_MODE", vars.EDGEMQ_DEV_MODE, problems);
  const rateLimit = {
    perSecond: int("EDGEMQ_RATE_LIMIT_PER_SECOND", DEFAULT_RATE_LIMIT.perSecond),
    burst: int("EDGEMQ_RATE_LIMIT_BURST", DEFAULT_RATE_LIMIT.burst),
  };
  unknownSettings(vars, problems);
  return {
    limits,
    exchangeShards,
    devMode,
    rateLimit,
    queueModes,
    queuePartitions,
    problems: problems.lines,
    misread: problems.settings,
  };
}
