/**
 * The in-memory index of queued requests used by dispatch: relay ids grouped by client identity,
 * FIFO within an identity, taken round-robin across identities so one flooding client does not
 * hold back the others. Pure (no I/O); rebuilt from the store on wake, and once stale entries (a
 * request cancelled or expired while queued) make up half of it (queue-state.ts). The dispatcher
 * re-reads each row before leasing, so a stale entry is only skipped. Requests that run alone
 * (lease-rules.ts runsAlone) wait apart, oldest first, and are placed before the rest
 * (dispatcher.ts), so the dispatcher knows to keep a server free for them.
 */

/**
 * Whether the index must be rebuilt from the store: there is none yet, requests went back to the
 * queue (`requeued`), or the requests that ended while queued since it was built (`endedQueued`:
 * its stale entries, at most) may be half of it. A queue with no server for hours would otherwise
 * keep an entry for every request that expired in it; the rebuild, O(queued), is paid for by at
 * least as many ends.
 */
export function needsRebuild(
  index: ReadyIndex | undefined,
  requeued: boolean,
  endedQueued: number,
): index is undefined {
  if (index === undefined || requeued) return true;
  return endedQueued > 0 && endedQueued * 2 >= index.size;
}

/** A queued request as the index holds it. */
export interface Entry {
  from: string;
  rid: number;
}

const NONE: readonly Entry[] = Object.freeze([]);

export class ReadyIndex {
  /** Identities with queued requests, in ring order. */
  private readonly ring: string[] = [];
  private readonly byIdentity = new Map<string, number[]>();
  /** Position in `ring` of the identity served next. */
  private cursor = 0;
  private count = 0;
  /** Requests that run alone, in relay-id order. */
  private alone: Entry[] = [];

  /**
   * Builds an index from rows in any order; those for which `runsAlone(attempt)` holds wait
   * apart (takeAlone).
   */
  static from(
    rows: Iterable<Entry & { attempt?: number }>,
    runsAlone?: (attempt: number) => boolean,
  ): ReadyIndex {
    const index = new ReadyIndex();
    for (const row of rows) {
      if (runsAlone?.(row.attempt ?? 0) === true)
        index.alone.push({ from: row.from, rid: row.rid });
      else index.add(row.from, row.rid);
    }
    index.alone.sort((a, b) => a.rid - b.rid);
    return index;
  }

  /** Entries held, stale ones included. */
  get size(): number {
    return this.count + this.alone.length;
  }

  /** Requests that run alone waiting, stale ones included. */
  get aloneCount(): number {
    return this.alone.length;
  }

  /** Takes every request that runs alone; the caller puts back what it could not place. */
  takeAlone(): readonly Entry[] {
    if (this.alone.length === 0) return NONE;
    const taken = this.alone;
    this.alone = [];
    return taken;
  }

  /** Puts back requests that run alone and found no server (`entries` oldest first). */
  putBackAlone(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    this.alone = [...entries, ...this.alone].sort((a, b) => a.rid - b.rid);
  }

  /** Adds a request; kept in relay-id order within its identity (ids grow with arrival). */
  add(from: string, rid: number): void {
    const rids = this.byIdentity.get(from);
    if (!rids) {
      this.byIdentity.set(from, [rid]);
      this.ring.push(from);
      this.count++;
      return;
    }
    let at = rids.length;
    while (at > 0 && (rids[at - 1] ?? 0) > rid) at--;
    if (rids[at - 1] === rid) return;
    rids.splice(at, 0, rid);
    this.count++;
  }

  /** Takes the next request round-robin across identities; `undefined` when empty. */
  take(): { from: string; rid: number } | undefined {
    while (this.ring.length > 0) {
      if (this.cursor >= this.ring.length) this.cursor = 0;
      const from = this.ring[this.cursor];
      if (from === undefined) return undefined;
      const rids = this.byIdentity.get(from);
      const rid = rids?.shift();
      if (rids === undefined || rids.length === 0) {
        this.byIdentity.delete(from);
        this.ring.splice(this.cursor, 1);
      } else {
        this.cursor++;
      }
      if (rid !== undefined) {
        this.count--;
        return { from, rid };
      }
    }
    return undefined;
  }
}
