/**
 * Write statements held back for a moment, durable mode only. Workerd's output gate holds every
 * message an object sends after a write until that write is committed, so a request stored in
 * the event that dispatches it reaches its server one commit late. When a quiet partition takes
 * a request from a link, the queue holds that event's writes here instead (queue-state.ts): the
 * `dispatch` leaves at once, and the writes run in the next event (a zero-delay timer, or
 * whichever event comes first), in one transaction, before anything else. A lone `accepted` is
 * sent after that, so it still waits for the commit; a server's answer arriving first goes down
 * the link before the writes run (queue-do.ts), with the `accepted`: the client then has its
 * final outcome and needs nothing stored. Runs statements in order.
 * Used by request-store.ts.
 */

/** What this needs of the platform's SqlStorage (kept structural, so it unit-tests in Node). */
export type SqlValue = ArrayBuffer | string | number | null;
export interface SqlRunner {
  exec(query: string, ...params: SqlValue[]): unknown;
}

type Statement = { query: string; params: SqlValue[] };

export class HeldWrites {
  private held: Statement[] | undefined;

  constructor(private readonly sql: SqlRunner) {}

  /** Whether writes are being held. */
  get holding(): boolean {
    return this.held !== undefined;
  }

  /** Starts holding writes; false when they already were. */
  hold(): boolean {
    if (this.held !== undefined) return false;
    this.held = [];
    return true;
  }

  /** Runs a write statement now, or holds it. */
  run(query: string, ...params: SqlValue[]): void {
    if (this.held === undefined) this.sql.exec(query, ...params);
    else this.held.push({ query, params });
  }

  /** Stops holding and runs what was held (inside the caller's transaction). */
  release(): void {
    const held = this.held;
    this.held = undefined;
    for (const { query, params } of held ?? []) this.sql.exec(query, ...params);
  }

  /** Stops holding and forgets what was held (its transaction rolled back). */
  discard(): void {
    this.held = undefined;
  }
}
