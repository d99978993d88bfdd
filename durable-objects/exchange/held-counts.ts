/**
 * Per-identity counts of the outcomes a table holds for each identity (how many, and their bytes),
 * kept in memory in step with the table so that a cap check (outbox-limits.ts atCap) costs no read
 * on the hot path. An identity's count is loaded from the table the first time it is asked for
 * after the object starts (or wakes from hibernation), then changed by `add` and `take` as rows
 * come and go; a change for an identity not loaded is skipped, since its load will read the table
 * as it is then. Bounded: past `maxIdentities` the least recently loaded count is dropped (and
 * read again if asked). `clear` forgets every count, for a transaction that rolled back after it
 * changed some. Pure apart from the load it is given; used by outbox.ts and http-requests.ts.
 */
import type { Held } from "./outbox-limits.js";

/** A table's `SELECT COUNT(*) AS count, TOTAL(size) AS bytes` row as what it holds. */
export function heldOfRow(row: Record<string, unknown>): Held {
  return {
    count: typeof row.count === "number" ? row.count : 0,
    bytes: typeof row.bytes === "number" ? row.bytes : 0,
  };
}

/** Counts kept for at most this many identities; past it they are dropped and read again. */
export const MAX_COUNTED_IDENTITIES = 10_000;

export class HeldCounts {
  private readonly counted = new Map<string, Held>();

  constructor(
    /** Reads `identity`'s count from the table. */
    private readonly load: (identity: string) => Held,
    private readonly maxIdentities = MAX_COUNTED_IDENTITIES,
  ) {}

  /** What the table holds for `identity` (read once, then kept current). */
  get(identity: string): Readonly<Held> {
    const known = this.counted.get(identity);
    if (known !== undefined) return known;
    const held = { ...this.load(identity) };
    if (this.counted.size >= this.maxIdentities) {
      // The least recently loaded goes (read again if needed), not every count at once.
      const oldest = this.counted.keys().next().value;
      if (oldest !== undefined) this.counted.delete(oldest);
    }
    this.counted.set(identity, held);
    return held;
  }

  /** A row of `bytes` came for `identity`. */
  add(identity: string, bytes: number): void {
    const held = this.counted.get(identity);
    if (held === undefined) return;
    held.count++;
    held.bytes += bytes;
  }

  /** A row of `bytes` of `identity`'s went (never below nothing). */
  take(identity: string, bytes: number): void {
    const held = this.counted.get(identity);
    if (held === undefined) return;
    held.count = Math.max(0, held.count - 1);
    held.bytes = Math.max(0, held.bytes - bytes);
  }

  /** Forgets every count: each is read again when next asked for. */
  clear(): void {
    this.counted.clear();
  }
}
