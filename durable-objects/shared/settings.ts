/**
 * Relay settings: the protocol's default limits, overridden per deployment by `EDGEMQ_*`
 * variables (wrangler.toml [vars], or `--var` with wrangler dev). Read once per object.
 */
import { DEFAULT_LIMITS, type Limits } from "../../protocol/index.js";
import { parseQueueModes, type QueueModes } from "./queue-modes.js";
import { parseQueuePartitions, type QueuePartitions } from "./queue-partitions.js";
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

/** Limits the wire codec checks at their default values: settings can only lower them. */
const CODEC_BOUNDED = ["maxConcurrency", "maxHeaders", "maxHeaderBytes"] as const;

/**
 * A positive whole number, given as a string (`"1000"`, `--var`) or as a TOML number (`1000`:
 * wrangler passes [vars] numbers to the Worker as numbers); anything else is the fallback.
 */
function readPositiveInt(value: unknown, fallback: number): number {
  const n =
    typeof value === "number"
      ? value
      : typeof value === "string" && value.trim() !== ""
        ? Number(value)
        : Number.NaN;
  return Number.isSafeInteger(n) && n > 0 ? n : fallback;
}

/** `true` as a string (`--var`, a quoted TOML value) or as a TOML boolean. */
function readTrue(value: unknown): boolean {
  return value === true || value === "true";
}

/** Settings per `env` object: the front door reads them on every HTTP call, env never changes. */
const parsed = new WeakMap<object, RelaySettings>();

/** Reads settings from a Worker/DO `env` once; unknown or invalid values fall back to defaults. */
export function readSettings(env: object): RelaySettings {
  let settings = parsed.get(env);
  if (settings === undefined) {
    settings = parseSettings(env);
    parsed.set(env, settings);
  }
  return settings;
}

function parseSettings(env: object): RelaySettings {
  const vars = env as Record<string, unknown>;
  const limits: Limits = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(LIMIT_VARS) as (keyof Limits)[]) {
    limits[key] = readPositiveInt(vars[LIMIT_VARS[key]], DEFAULT_LIMITS[key]);
  }
  // The wire codec bounds these at their defaults whatever the settings say (protocol/codec.ts,
  // validate.ts): a larger setting would announce a limit the relay does not honour.
  for (const key of CODEC_BOUNDED) limits[key] = Math.min(limits[key], DEFAULT_LIMITS[key]);
  // A default above the maximum would refuse every request that gives no `timeout`.
  limits.defaultTimeoutMs = Math.min(limits.defaultTimeoutMs, limits.maxTimeoutMs);
  return {
    limits,
    exchangeShards: readPositiveInt(vars.EDGEMQ_EXCHANGE_SHARDS, 1),
    devMode: readTrue(vars.EDGEMQ_DEV_MODE),
    rateLimit: {
      perSecond: readPositiveInt(vars.EDGEMQ_RATE_LIMIT_PER_SECOND, DEFAULT_RATE_LIMIT.perSecond),
      burst: readPositiveInt(vars.EDGEMQ_RATE_LIMIT_BURST, DEFAULT_RATE_LIMIT.burst),
    },
    queueModes: parseQueueModes(vars.EDGEMQ_QUEUE_MODES),
    queuePartitions: parseQueuePartitions(vars.EDGEMQ_QUEUE_PARTITIONS),
  };
}
