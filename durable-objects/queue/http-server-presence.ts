/**
 * Which HTTP servers of a queue count as connected without a waiting take: those seen (a take, a
 * reply, an extend, a presence call) within HTTP_SERVER_PRESENCE_MS. Kept in order of last sight,
 * so forgetting the ones not seen lately stops at the first recent one: the map holds no more
 * than the servers of one presence window, however many identities a queue sees over its life.
 * Pure; used by http-takers.ts.
 */
import { HTTP_SERVER_PRESENCE_MS } from "../shared/http-contracts.js";

export class HttpServerPresence {
  private readonly lastSeen = new Map<string, number>();

  /** HTTP server `identity` was heard from at `now` (times never go back). */
  seen(identity: string, now: number): void {
    this.lastSeen.delete(identity);
    this.lastSeen.set(identity, now);
    this.prune(now);
  }

  /** HTTP server `identity` said it left: it no longer counts as connected. */
  forget(identity: string): void {
    this.lastSeen.delete(identity);
  }

  /** Whether any HTTP server was seen within HTTP_SERVER_PRESENCE_MS of `now`. */
  any(now: number): boolean {
    this.prune(now);
    return this.lastSeen.size > 0;
  }

  /** How many servers it remembers. */
  get size(): number {
    return this.lastSeen.size;
  }

  private prune(now: number): void {
    for (const [identity, at] of this.lastSeen) {
      if (now - at < HTTP_SERVER_PRESENCE_MS) return;
      this.lastSeen.delete(identity);
    }
  }
}
