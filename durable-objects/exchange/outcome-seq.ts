/**
 * The exchange's counter of outcome numbers (`outcome_seq`, one row; schema.ts): each outcome
 * claimed for a request with a poller gets the next number, and `GET /v1/outcomes` reads a
 * poller's outcomes in that order, after the cursor its last answer gave. The counter only grows
 * and lives apart from the rows it numbers, so purging the row with the largest number never makes
 * a later outcome reuse it (a poller past that number would never see it). A number is the claim's
 * time in microseconds' worth of room (epoch ms × 1000) unless the last one given is already past
 * that: a plain count would let one identity read, from the gaps between its own numbers, how many
 * outcomes other identities on its shard got. Used by http-requests.ts, inside its claim
 * transaction.
 */

/** The part of SqlStorage the counter uses (a fake in unit tests). */
export interface SeqSql {
  exec(query: string, ...params: number[]): { toArray(): Record<string, unknown>[] };
}

/** Room for this many numbers per millisecond before they run ahead of the clock. */
const NUMBERS_PER_MS = 1000;

/** Numbers given out in one claim: read once, written once (if any was given). */
export class OutcomeSeq {
  private last: number;
  private readonly first: number;

  /** `now`: the claim's time (epoch ms), the least the next number is worth. */
  constructor(
    private readonly sql: SeqSql,
    private readonly now: number,
  ) {
    const row = sql.exec("SELECT last FROM outcome_seq WHERE id = 1").toArray()[0];
    this.first = typeof row?.last === "number" ? row.last : 0;
    this.last = this.first;
  }

  /** The number the next outcome gets, if it takes it (`take`). */
  peek(): number {
    return Math.max(this.last + 1, this.now * NUMBERS_PER_MS);
  }

  /** Takes the number `peek` gave. */
  take(): void {
    this.last = this.peek();
  }

  /**
   * Whether a poll's cursor `after` is past every number given so far and the clock's worth now:
   * no answer gave it, and a poll after it would miss every outcome until the clock caught up.
   */
  isAhead(after: number): boolean {
    return after > Math.max(this.last, this.now * NUMBERS_PER_MS);
  }

  /** Writes the counter if any number was taken. */
  save(): void {
    if (this.last === this.first) return;
    this.sql.exec("INSERT OR REPLACE INTO outcome_seq (id, last) VALUES (1, ?)", this.last);
  }
}
