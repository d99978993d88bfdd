/**
 * Per-queue delivery modes (EDGEMQ_QUEUE_MODES): `durable` (the default; a request is stored in
 * SQLite before it is acknowledged) or `memory` (requests, leases and outcomes live in the
 * object's memory; nothing is written on the hot path). The setting is a comma list of
 * `<pattern>=memory|durable`, where a pattern is an exact queue name or a prefix ending in `*`;
 * the first match wins. Invalid entries (a pattern no queue name can match included, and a value
 * that is not a string) are kept in `invalid`: settings.ts lists them as problems. Pure.
 */
import { isQueuePattern } from "../../protocol/index.js";

export type DeliveryMode = "durable" | "memory";

export interface QueueModeRule {
  /** The exact name, or the prefix when `prefix` is true. */
  pattern: string;
  prefix: boolean;
  mode: DeliveryMode;
}

export interface QueueModes {
  rules: QueueModeRule[];
  /** Entries that could not be read (settings problems: the front door refuses every call). */
  invalid: string[];
}

export const DEFAULT_DELIVERY_MODE: DeliveryMode = "durable";

export function parseQueueModes(value: unknown): QueueModes {
  const modes: QueueModes = { rules: [], invalid: [] };
  if (value === undefined) return modes;
  if (typeof value !== "string") {
    // A TOML table, array or number: not a list this reads, so not to be ignored silently.
    modes.invalid.push(unreadValue(value));
    return modes;
  }
  for (const raw of value.split(",")) {
    const entry = raw.trim();
    if (entry === "") continue;
    const rule = parseRule(entry);
    if (rule === undefined) modes.invalid.push(entry);
    else modes.rules.push(rule);
  }
  return modes;
}

/** A setting's value that is not a string (a TOML table, array, number), as an entry to report. */
export function unreadValue(value: unknown): string {
  if (typeof value === "object" && value !== null) {
    try {
      return JSON.stringify(value);
    } catch {
      return "[object]";
    }
  }
  return String(value);
}

function parseRule(entry: string): QueueModeRule | undefined {
  const at = entry.indexOf("=");
  if (at <= 0) return undefined;
  const pattern = entry.slice(0, at).trim();
  const mode = entry.slice(at + 1).trim();
  if (mode !== "memory" && mode !== "durable") return undefined;
  // A pattern no queue name can match (img/thumbs, jobs#1) would be a rule that never applies.
  if (!isQueuePattern(pattern)) return undefined;
  const prefix = pattern.endsWith("*");
  const name = prefix ? pattern.slice(0, -1) : pattern;
  return { pattern: name, prefix, mode };
}

/** The delivery mode of `queue`: the first matching rule's, else durable. */
export function deliveryMode(modes: Pick<QueueModes, "rules">, queue: string): DeliveryMode {
  for (const rule of modes.rules) {
    const matches = rule.prefix ? queue.startsWith(rule.pattern) : queue === rule.pattern;
    if (matches) return rule.mode;
  }
  return DEFAULT_DELIVERY_MODE;
}
