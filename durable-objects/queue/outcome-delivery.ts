/**
 * Hands finished requests' outcomes to the exchange objects (one `deliver` RPC per exchange
 * shard and flush). An outcome stays in SQLite until its call succeeds; a failed call is retried
 * by the alarm after DELIVERY_RETRY_MS. A success is written later, with the queue's next
 * transaction (`recordDelivered`), not in a commit of its own: if the object dies first, the
 * outcome is delivered again, and the client's SDK ignores the copy. Used by queue-state.ts and queue-settle.ts.
 */
import { type ExchangeRpc, exchangeName, type Outcome } from "../shared/contracts.js";
import { DELIVERY_RETRY_MS } from "./deadlines.js";
import type { RequestStore } from "./request-store.js";

const FLUSH_LIMIT = 500;

export class OutcomeDelivery {
  /** Outcomes inside a `deliver` call now, so concurrent flushes do not send them twice. */
  private readonly sending = new Set<number>();
  /** Delivered outcomes whose mark is not written yet (they stay in `sending` until then). */
  private confirmed: number[] = [];

  constructor(
    private readonly store: RequestStore,
    private readonly exchange: (name: string) => ExchangeRpc,
    private readonly shards: number,
  ) {}

  /** Delivers every outcome due by `now` (fresh ones included); true when all calls succeeded. */
  async flush(now: number): Promise<boolean> {
    const due = this.store
      .dueOutcomes(now + DELIVERY_RETRY_MS, FLUSH_LIMIT)
      .filter((d) => !this.sending.has(d.rid));
    if (due.length === 0) return true;
    const groups = new Map<string, { rids: number[]; outcomes: Outcome[] }>();
    for (const { rid, outcome } of due) {
      this.sending.add(rid);
      const name = exchangeName(outcome.to, this.shards);
      const group = groups.get(name) ?? { rids: [], outcomes: [] };
      group.rids.push(rid);
      group.outcomes.push(outcome);
      groups.set(name, group);
    }
    const results = await Promise.all(
      [...groups].map(([name, group]) => this.deliverGroup(name, group.rids, group.outcomes)),
    );
    const allDelivered = results.every(Boolean);
    return allDelivered && due.length < FLUSH_LIMIT ? true : allDelivered && this.flush(Date.now());
  }

  private async deliverGroup(name: string, rids: number[], outcomes: Outcome[]): Promise<boolean> {
    try {
      await this.exchange(name).deliver(outcomes);
      this.confirmed.push(...rids);
      if (this.store.mode === "memory") this.recordDelivered();
      return true;
    } catch (error) {
      console.error(
        JSON.stringify({ evt: "queue.deliver_failed", exchange: name, error: String(error) }),
      );
      this.store.retryDelivery(rids, Date.now() + DELIVERY_RETRY_MS);
      for (const rid of rids) this.sending.delete(rid);
      return false;
    }
  }

  /** Writes the delivered marks gathered since the last call; inside the caller's transaction. */
  recordDelivered(): void {
    if (this.confirmed.length === 0) return;
    this.store.delivered(this.confirmed);
    for (const rid of this.confirmed) this.sending.delete(rid);
    this.confirmed = [];
  }
}
