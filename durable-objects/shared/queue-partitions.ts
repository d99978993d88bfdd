/**
 * Partitioned queues (EDGEMQ_QUEUE_PARTITIONS): a queue may be spread over K QueueDOs so its
 * load is not bound to one single-threaded object. The setting is a comma list of
 * `<pattern>=<K>`, where a pattern is an exact queue name or a prefix ending in `*`; the first
 * match wins, the default is 1, K is 1 to MAX_PARTITIONS. Invalid entries (a pattern no queue
 * name can match included, and a value that is not a string) are kept in `invalid`: settings.ts
 * lists them as problems. A client's requests go to the partition its
 * identity hashes to, so its requests and replies stay together; partition 0 is the object
 * named like the queue (K = 1 is the layout of an unpartitioned queue), partition p > 0 the
 * object `<queue>#<p>` (`#` is not a queue-name character, so no name collides). Pure; see
 * docs/scaling.md.
 */
import { isQueuePattern } from "../../protocol/index.js";
import { fnv1a } from "./contracts.js";
import { unreadValue } from "./queue-modes.js";

/** Most partitions one queue may have. */
export const MAX_PARTITIONS = 64;

export interface QueuePartitionRule {
  /** The exact name, or the prefix when `prefix` is true. */
  pattern: string;
  prefix: boolean;
  partitions: number;
}

export interface QueuePartitions {
  rules: QueuePartitionRule[];
  /** Entries that could not be read (settings problems: the front door refuses every call). */
  invalid: string[];
}

export function parseQueuePartitions(value: unknown): QueuePartitions {
  const parsed: QueuePartitions = { rules: [], invalid: [] };
  if (value === undefined) return parsed;
  if (typeof value !== "string") {
    // A TOML table, array or number: not a list this reads, so not to be ignored silently.
    parsed.invalid.push(unreadValue(value));
    return parsed;
  }
  for (const raw of value.split(",")) {
    const entry = raw.trim();
    if (entry === "") continue;
    const rule = parseRule(entry);
    if (rule === undefined) parsed.invalid.push(entry);
    else parsed.rules.push(rule);
  }
  return parsed;
}

function parseRule(entry: string): QueuePartitionRule | undefined {
  const at = entry.indexOf("=");
  if (at <= 0) return undefined;
  const pattern = entry.slice(0, at).trim();
  const count = entry.slice(at + 1).trim();
  if (!/^[0-9]{1,3}$/.test(count)) return undefined;
  const partitions = Number(count);
  if (partitions < 1 || partitions > MAX_PARTITIONS) return undefined;
  // A pattern no queue name can match (img/thumbs, jobs#1) would be a rule that never applies.
  if (!isQueuePattern(pattern)) return undefined;
  const prefix = pattern.endsWith("*");
  const name = prefix ? pattern.slice(0, -1) : pattern;
  return { pattern: name, prefix, partitions };
}

/** How many partitions `queue` has: the first matching rule's count, else 1. */
export function partitionCount(partitions: Pick<QueuePartitions, "rules">, queue: string): number {
  for (const rule of partitions.rules) {
    const matches = rule.prefix ? queue.startsWith(rule.pattern) : queue === rule.pattern;
    if (matches) return rule.partitions;
  }
  return 1;
}

/** The partition (0 to count - 1) that holds `identity`'s requests. */
export function partitionOf(identity: string, count: number): number {
  if (count <= 1) return 0;
  return fnv1a(identity) % count;
}

/** The Durable Object name of `queue`'s partition `partition`. */
export function queueObjectName(queue: string, partition: number): string {
  return partition === 0 ? queue : `${queue}#${partition}`;
}

/** The object that holds `identity`'s requests to `queue`. */
export function clientQueueObject(
  partitions: Pick<QueuePartitions, "rules">,
  queue: string,
  identity: string,
): string {
  return queueObjectName(queue, partitionOf(identity, partitionCount(partitions, queue)));
}

/**
 * Reads a `partition` parameter (query or header) for a queue of `count` partitions: absent is
 * undefined, a valid index is returned, anything else is a string saying what is wrong.
 */
export function readPartition(
  value: string | undefined | null,
  count: number,
): number | undefined | string {
  if (value === undefined || value === null) return undefined;
  // Written as takes write it (takenId): "01" would name partition 1 as well, so one id could be
  // spelt two ways.
  if (!/^(?:0|[1-9][0-9]{0,2})$/.test(value)) {
    return "partition must be an integer: 0, 1, 2 and so on, with no leading zeros";
  }
  const partition = Number(value);
  if (partition >= count) {
    return `partition must be 0 to ${count - 1} (this queue has ${count} partition${count === 1 ? "" : "s"})`;
  }
  return partition;
}
