/**
 * The ExchangeDO's outbox for outcomes of `memory`-mode queues (EDGEMQ_QUEUE_MODES): kept in the
 * object's memory, keyed by (identity, request id), until the client acks them or the resume
 * window passes; never written to SQLite. Bounded: `keep` refuses an outcome past the identity's
 * or the object's memory budget (outbox-limits.ts), and the caller stores it in the SQLite outbox
 * instead. A client that reconnects while the object lives gets them like stored ones, in key
 * order (replay-pages.ts). While any wait, a timer (which keeps the object from hibernating, so
 * they are not lost to hibernation) purges them at the end of the resume window. Used by
 * exchange-do.ts.
 */
import { encodeFrame } from "../../protocol/index.js";
import type { Outcome } from "../shared/contracts.js";
import { fitsInMemory, type Held, MEMORY_ENTRY_OVERHEAD, NOTHING_HELD } from "./outbox-limits.js";
import type { PendingOutcome } from "./replay-pages.js";

interface Entry extends PendingOutcome {
  created: number;
}

interface Outcomes {
  /** By request id, in key order (a replaced outcome moves to the end with its new key). */
  entries: Map<string, Entry>;
  /** Total text length of the entries. */
  bytes: number;
}

export class MemoryOutbox {
  private readonly byIdentity = new Map<string, Outcomes>();
  private size = 0;
  private bytes = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly windowMs: number) {}

  /**
   * Keeps `outcome` under `key` unless it does not fit the memory budgets (a copy of one already
   * kept always fits: it replaces it). Returns false when the caller must store it elsewhere.
   */
  keep(outcome: Outcome, key: number, now: number): boolean {
    const { to, frame } = outcome;
    const id = frame.id;
    if (id === undefined) return true;
    const text = encodeFrame(frame);
    let outcomes = this.byIdentity.get(to);
    const old = outcomes?.entries.get(id);
    if (old === undefined) {
      const held = outcomes === undefined ? 0 : cost(outcomes.entries.size, outcomes.bytes);
      const total = cost(this.size, this.bytes);
      if (!fitsInMemory(held, total, text.length + MEMORY_ENTRY_OVERHEAD)) return false;
    }
    if (outcomes === undefined) {
      outcomes = { entries: new Map(), bytes: 0 };
      this.byIdentity.set(to, outcomes);
    }
    if (old !== undefined) this.drop(outcomes, id, old);
    outcomes.entries.set(id, { key, text, created: now });
    outcomes.bytes += text.length;
    this.bytes += text.length;
    this.size++;
    this.armPurge();
    return true;
  }

  /** Forgets acked ids; returns the ids it did not hold (they may be in the stored outbox). */
  remove(identity: string, ids: readonly string[]): string[] {
    const outcomes = this.byIdentity.get(identity);
    if (outcomes === undefined) return [...ids];
    const unknown: string[] = [];
    for (const id of ids) {
      const entry = outcomes.entries.get(id);
      if (entry === undefined) unknown.push(id);
      else this.drop(outcomes, id, entry);
    }
    if (outcomes.entries.size === 0) this.byIdentity.delete(identity);
    if (this.size === 0) this.stopTimer();
    return unknown;
  }

  /** How many outcomes, and how many bytes of them, wait here for `identity`. */
  held(identity: string): Held {
    const outcomes = this.byIdentity.get(identity);
    return outcomes === undefined
      ? NOTHING_HELD
      : { count: outcomes.entries.size, bytes: outcomes.bytes };
  }

  /** What the object keeps in memory in all (texts and entries; for tests and logs). */
  get memoryBytes(): number {
    return cost(this.size, this.bytes);
  }

  /** The outcomes waiting for `identity` with keys after `after`, in key order. */
  *after(identity: string, after: number): Generator<PendingOutcome> {
    const outcomes = this.byIdentity.get(identity);
    if (outcomes === undefined) return;
    for (const entry of outcomes.entries.values()) if (entry.key > after) yield entry;
  }

  /** Drops outcomes older than the resume window. */
  purge(now: number): void {
    for (const identity of this.byIdentity.keys()) this.purgeIdentity(identity, now);
  }

  /** Drops `identity`'s outcomes older than the resume window. */
  purgeIdentity(identity: string, now: number): void {
    const outcomes = this.byIdentity.get(identity);
    if (outcomes === undefined) return;
    const cutoff = now - this.windowMs;
    for (const [id, entry] of outcomes.entries) {
      if (entry.created < cutoff) this.drop(outcomes, id, entry);
    }
    if (outcomes.entries.size === 0) this.byIdentity.delete(identity);
    if (this.size === 0) this.stopTimer();
  }

  private drop(outcomes: Outcomes, id: string, entry: Entry): void {
    outcomes.entries.delete(id);
    outcomes.bytes -= entry.text.length;
    this.bytes -= entry.text.length;
    this.size--;
  }

  private armPurge(): void {
    if (this.timer !== undefined || this.size === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.purge(Date.now());
      this.armPurge();
    }, this.windowMs + 1_000);
  }

  private stopTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** What `count` entries of `bytes` text cost the memory budgets. */
function cost(count: number, bytes: number): number {
  return bytes + count * MEMORY_ENTRY_OVERHEAD;
}
