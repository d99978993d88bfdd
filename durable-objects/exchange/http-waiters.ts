/**
 * In-memory waits of HTTP clients for their requests' outcomes (long-polls, and the synchronous
 * `POST .../requests`), keyed by (identity, id); a second instance keys the outcome polls of
 * `GET /v1/outcomes` by (identity, poller). `wait` resolves when `wake` is called for its key
 * or after `ms`, whichever comes first; it never rejects. Nothing here is durable: the outcome
 * itself is in SQLite (http-requests.ts), a waiter only says "look again". Used by http-clients.ts.
 */

export class HttpWaiters {
  private readonly waiting = new Map<string, Set<() => void>>();

  /** Resolves on `wake(identity, id)` or after `ms` milliseconds. */
  wait(identity: string, id: string, ms: number): Promise<void> {
    const key = keyOf(identity, id);
    return new Promise((resolve) => {
      const set = this.waiting.get(key) ?? new Set<() => void>();
      this.waiting.set(key, set);
      const done = (): void => {
        clearTimeout(timer);
        set.delete(done);
        if (set.size === 0 && this.waiting.get(key) === set) this.waiting.delete(key);
        resolve();
      };
      const timer = setTimeout(done, ms);
      set.add(done);
    });
  }

  /** Wakes every wait for (identity, id). */
  wake(identity: string, id: string): void {
    const set = this.waiting.get(keyOf(identity, id));
    if (set === undefined) return;
    for (const done of [...set]) done();
  }

  /** Number of waits in progress (for tests and logs). */
  get size(): number {
    let total = 0;
    for (const set of this.waiting.values()) total += set.size;
    return total;
  }
}

function keyOf(identity: string, id: string): string {
  return `${identity}\n${id}`;
}
