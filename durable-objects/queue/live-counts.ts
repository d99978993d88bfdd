/**
 * How many requests are live (queued or leased), in all and per client identity, kept in memory
 * so admitting a request (queue depth and per-client in-flight limits, enqueue.ts) costs no
 * query. A store loads the counts once (after a wake, or after anything made them unknown) and
 * then moves them with each insert and each request that ends. A request ending whose client is
 * not known here makes them unknown again, to be reloaded. Used by both request stores.
 */

export class LiveCounts {
  private total: number | undefined;
  private readonly byIdentity = new Map<string, number>();

  get known(): boolean {
    return this.total !== undefined;
  }

  /** Sets the counts from a full count (one row per identity with live requests). */
  load(rows: Iterable<{ from: string; n: number }>): void {
    this.byIdentity.clear();
    let total = 0;
    for (const { from, n } of rows) {
      if (n <= 0) continue;
      this.byIdentity.set(from, n);
      total += n;
    }
    this.total = total;
  }

  /** Live requests in all, or undefined while unknown. */
  depth(): number | undefined {
    return this.total;
  }

  /** Live requests of `from`, or undefined while unknown. */
  of(from: string): number | undefined {
    return this.total === undefined ? undefined : (this.byIdentity.get(from) ?? 0);
  }

  /** A new live request of `from` was stored. */
  added(from: string): void {
    if (this.total === undefined) return;
    this.total++;
    this.byIdentity.set(from, (this.byIdentity.get(from) ?? 0) + 1);
  }

  /** A live request ended; `from` undefined when its client is not known (counts unknown). */
  ended(from: string | undefined): void {
    if (this.total === undefined) return;
    const n = from === undefined ? undefined : this.byIdentity.get(from);
    if (from === undefined || n === undefined) {
      this.forget();
      return;
    }
    this.total--;
    if (n <= 1) this.byIdentity.delete(from);
    else this.byIdentity.set(from, n - 1);
  }

  /** The counts can no longer be trusted (a rollback, an unknown request ended). */
  forget(): void {
    this.total = undefined;
    this.byIdentity.clear();
  }
}
