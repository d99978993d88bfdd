/**
 * Write statements held back for a moment, durable mode only. Workerd's output gate holds every
 * message an object sends after a write until that write is committed, so a request stored in
 * the event that dispatches it reaches its server one commit late. When a quiet partition takes
 * a request from a link, the queue holds that event's writes here instead (queue-state.ts): the
 * `dispatch` leaves at once. The writes run in one transaction, before anything else, at the
 * latest HOLD_WRITES_MS later (link-enqueues.ts), or as soon as an event comes that is not a
 * quiet link's request or ack, nor a server's message of answers sent early (queue-do.ts): those
 * join what is held. So a serial client's requests share a commit, and the `fsync` that blocks
 * workerd's thread comes once per HOLD_WRITES_MS instead of once per request (bench/README.md).
 * A lone `accepted` is sent after the commit, so it still says "stored"; a server's answer goes
 * down the link before the writes run, with the `accepted`: the client then has its final
 * outcome and needs nothing stored. Runs statements in order. Used by request-store.ts.
 */

/**
 * Longest a quiet partition holds writes: under ACCEPTED_HOLD_MS (link-registry.ts), so a lone
 * `accepted` is not sent later than without holding. A relay that dies in it loses requests
 * dispatched and not yet answered; their clients, with no `accepted`, re-send them.
 */
export const HOLD_WRITES_MS = 4;

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
