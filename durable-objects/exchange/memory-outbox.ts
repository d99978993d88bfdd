/**
 * The ExchangeDO's outbox for outcomes of `memory`-mode queues (EDGEMQ_QUEUE_MODES): kept in the
 * object's memory, keyed by (identity, request id), until the client acks them or the resume
 * window passes; never written to SQLite. A client that reconnects while the object lives gets
 * them like stored ones. While any wait, a timer (which keeps the object from hibernating, so
 * they are not lost to hibernation) purges them at the end of the resume window. Used by
 * exchange-do.ts.
 */
import { encodeFrame } from "../../protocol/index.js";
import type { Outcome } from "../shared/contracts.js";

interface Entry {
  text: string;
  created: number;
}

export class MemoryOutbox {
  private readonly byIdentity = new Map<string, Map<string, Entry>>();
  private size = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly windowMs: number) {}

  store(outcomes: readonly Outcome[], now: number): void {
    for (const { to, frame } of outcomes) {
      const id = frame.id;
      if (id === undefined) continue;
      let entries = this.byIdentity.get(to);
      if (entries === undefined) {
        entries = new Map();
        this.byIdentity.set(to, entries);
      }
      if (!entries.has(id)) this.size++;
      entries.set(id, { text: encodeFrame(frame), created: now });
    }
    this.armPurge();
  }

  /** Forgets acked ids; returns the ids it did not hold (they may be in the stored outbox). */
  remove(identity: string, ids: readonly string[]): string[] {
    const entries = this.byIdentity.get(identity);
    if (entries === undefined) return [...ids];
    const unknown: string[] = [];
    for (const id of ids) {
      if (entries.delete(id)) this.size--;
      else unknown.push(id);
    }
    if (entries.size === 0) this.byIdentity.delete(identity);
    if (this.size === 0) this.stopTimer();
    return unknown;
  }

  /** Frame texts waiting for `identity`, oldest first. */
  pending(identity: string): string[] {
    const entries = this.byIdentity.get(identity);
    return entries === undefined ? [] : [...entries.values()].map((e) => e.text);
  }

  /** Drops outcomes older than the resume window. */
  purge(now: number): void {
    const cutoff = now - this.windowMs;
    for (const [identity, entries] of this.byIdentity) {
      for (const [id, entry] of entries) {
        if (entry.created < cutoff) {
          entries.delete(id);
          this.size--;
        }
      }
      if (entries.size === 0) this.byIdentity.delete(identity);
    }
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
