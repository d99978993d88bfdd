/**
 * The exchange's counter of outcome numbers (`outcome_seq`, one row; schema.ts): each outcome
 * claimed for a request with a poller gets the next number, and `GET /v1/outcomes` reads a
 * poller's outcomes in that order, after the cursor its last answer gave. The counter only grows
 * and lives apart from the rows it numbers, so purging the row with the largest number never makes
 * a later outcome reuse it (a poller past that number would never see it). Used by
 * http-requests.ts, inside its claim transaction.
 */

/** Numbers given out in one claim: read once, written once (if any was given). */
export class OutcomeSeq {
  private last: number;
  private readonly first: number;

  constructor(private readonly sql: SqlStorage) {
    const row = sql.exec("SELECT last FROM outcome_seq WHERE id = 1").toArray()[0];
    this.first = typeof row?.last === "number" ? row.last : 0;
    this.last = this.first;
  }

  /** The number the next outcome gets, if it takes it (`take`). */
  peek(): number {
    return this.last + 1;
  }

  /** Takes the number `peek` gave. */
  take(): void {
    this.last++;
  }

  /** Writes the counter if any number was taken. */
  save(): void {
    if (this.last === this.first) return;
    this.sql.exec("INSERT OR REPLACE INTO outcome_seq (id, last) VALUES (1, ?)", this.last);
  }
}
