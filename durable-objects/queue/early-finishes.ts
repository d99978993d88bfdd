/**
 * Early finishes, durable mode only: when a server answers a request that came on a queue link
 * and the link is open, the queue sends the outcome down the link before anything is written,
 * and writes the finish later: with the queue's next transaction (usually the one storing that
 * client's next request), with the writes held for quiet requests (held-writes.ts), or after
 * EARLY_FINISH_WRITE_MS. The answer then waits for no commit, and the finish shares a commit
 * with other writes: commits are serialized, so a finish written at once would hold the next
 * request's commit back. What it costs: if the object dies before the finish is written, the
 * request is still leased, so it runs again on another server and the client's SDK ignores the
 * second outcome (at-least-once, like any redelivery).
 * Every transaction writes the pending finishes first (queue-state.ts), so nothing reads a
 * stale lease: expiry, lease reclaim, server loss and cancel all see the request as done.
 * Used by queue-state.ts and queue-do.ts.
 */
import type { Outcome } from "../shared/contracts.js";
import type { RequestStore } from "./store-contract.js";

/** Longest a finish waits for another transaction, unless writes held then carry it. */
export const EARLY_FINISH_WRITE_MS = 10;

export class EarlyFinishes {
  private readonly pending = new Map<number, { frame: Outcome["frame"]; at: number }>();
  private timer: ReturnType<typeof setTimeout> | undefined;

  /** `writeSoon` runs a transaction (which writes the pending finishes) when the timer fires. */
  constructor(private readonly writeSoon: () => void) {}

  get size(): number {
    return this.pending.size;
  }

  add(rid: number, frame: Outcome["frame"], at: number): void {
    this.pending.set(rid, { frame, at });
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.writeSoon();
    }, EARLY_FINISH_WRITE_MS);
  }

  /**
   * Writes every pending finish; inside the caller's transaction. An outcome its client acked
   * already (`delivered(rid)` claims the ack) is written as delivered: one statement, no outcome
   * stored only to be cleared by the next.
   */
  write(store: RequestStore, delivered: (rid: number) => boolean): void {
    if (this.pending.size === 0) return;
    const acked: number[] = [];
    for (const [rid, { frame, at }] of this.pending) {
      if (delivered(rid)) acked.push(rid);
      else store.finish(rid, frame, at);
    }
    store.finishDelivered(acked);
    this.pending.clear();
    // Nothing left for the timer: without this it would run an empty transaction later.
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
