/**
 * Client acks of stored outcomes, deleted from the outbox table later rather than in the event
 * that received them: a delete there would be a commit, and the output gate would hold that
 * event's outgoing RPCs (the next request's enqueue, often in the same message) until it is
 * durable. Acks are applied with the next outbox write (one commit), after ACK_FLUSH_MS, before a
 * reconnecting client's outbox is read, or once MAX_DEFERRED pile up. Losing them (a restart
 * first) only re-sends acked outcomes, which the SDK ignores and acks again. Used by exchange-do.ts.
 */

export const ACK_FLUSH_MS = 1_000;
const MAX_DEFERRED = 2_000;

export class DeferredAcks {
  private readonly pending = new Map<string, string[]>();
  private count = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly apply: (identity: string, ids: readonly string[]) => void) {}

  add(identity: string, ids: readonly string[]): void {
    if (ids.length === 0) return;
    const list = this.pending.get(identity);
    if (list) list.push(...ids);
    else this.pending.set(identity, [...ids]);
    this.count += ids.length;
    if (this.count >= MAX_DEFERRED) this.flush();
    else if (this.timer === undefined) this.timer = setTimeout(() => this.flush(), ACK_FLUSH_MS);
  }

  /** Applies every deferred ack now (synchronously, so it joins the caller's commit). */
  flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.count === 0) return;
    for (const [identity, ids] of this.pending) this.apply(identity, ids);
    this.pending.clear();
    this.count = 0;
  }
}
