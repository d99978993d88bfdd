/**
 * The QueueDO's in-memory view of its server connections: open sockets with a valid attachment,
 * their concurrency, how many requests each holds (from SQLite), whether one of those runs alone
 * (lease-rules.ts runsAlone) and when each was last used.
 * Rebuilt lazily from getWebSockets() + attachments + the requests table after any wake, and
 * whenever queue-do.ts invalidates it; only the least-recently-used order lives in memory alone.
 */

import { loneAttempt } from "./lease-rules.js";
import { readServerAttachment, SERVER_TAG } from "./server-attachment.js";
import type { LiveServer } from "./server-choice.js";
import type { RequestStore } from "./store-contract.js";

export type { LiveServer } from "./server-choice.js";

export class ServerRegistry {
  private servers: Map<string, LiveServer> | undefined;
  /** Connections closed by a takeover; their sockets may linger in getWebSockets() a while. */
  private readonly retired = new Set<string>();
  /**
   * Connections a lease of which ran out with no word from them since: a server whose extends
   * stopped is stalled or cut off (a half-open socket), so dispatch skips it until it sends a
   * message. Memory only: after a wake every server gets dispatches again.
   */
  private readonly stalled = new Set<string>();
  private readonly lastUsed = new Map<string, number>();
  private uses = 0;

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly store: RequestStore,
    /** The queue's current maxAttempts (settings may change it). */
    private readonly maxAttempts: () => number,
  ) {}

  all(): LiveServer[] {
    return [...this.load().values()];
  }

  get(connId: string): LiveServer | undefined {
    return this.load().get(connId);
  }

  /** Whether any connected server holds a request now. */
  anyBusy(): boolean {
    return this.all().some((s) => s.inFlight > 0);
  }

  anyConnected(): boolean {
    return this.load().size > 0;
  }

  invalidate(): void {
    this.servers = undefined;
  }

  retire(connId: string): void {
    this.retired.add(connId);
    this.invalidate();
  }

  /** `server` was leased a request; `alone`: one that runs alone (it gets nothing else). */
  markDispatched(server: LiveServer, alone = false): void {
    server.inFlight++;
    if (alone) server.alone = true;
    server.lastUsed = ++this.uses;
    this.lastUsed.set(server.attachment.connId, server.lastUsed);
  }

  /** A lease of `connId` ran out: it gets no dispatch until it is heard from. */
  markStalled(connId: string): void {
    this.stalled.add(connId);
    const server = this.servers?.get(connId);
    if (server) server.stalled = true;
  }

  /** Server `connId` sent a message: it is not stalled. */
  heard(connId: string): void {
    if (this.stalled.size === 0 || !this.stalled.delete(connId)) return;
    const server = this.servers?.get(connId);
    if (server) server.stalled = false;
  }

  release(connId: string | null): void {
    const server = connId === null ? undefined : this.servers?.get(connId);
    if (server === undefined) return;
    server.inFlight = Math.max(0, server.inFlight - 1);
    if (server.inFlight === 0) server.alone = false;
  }

  private load(): Map<string, LiveServer> {
    if (this.servers) return this.servers;
    const counts = this.store.leasedCounts();
    const alone = this.store.lesseesFromAttempt(loneAttempt(this.maxAttempts()));
    const servers = new Map<string, LiveServer>();
    const present = new Set<string>();
    for (const ws of this.ctx.getWebSockets(SERVER_TAG)) {
      const attachment = readServerAttachment(ws.deserializeAttachment());
      if (attachment) present.add(attachment.connId);
      if (!attachment || ws.readyState !== WebSocket.OPEN) continue;
      const connId = attachment.connId;
      if (this.retired.has(connId)) continue;
      servers.set(connId, {
        ws,
        attachment,
        connId,
        concurrency: attachment.concurrency,
        inFlight: counts.get(connId) ?? 0,
        lastUsed: this.lastUsed.get(connId) ?? 0,
        stalled: this.stalled.has(connId),
        alone: alone.has(connId),
      });
    }
    forgetAbsent(this.retired, present);
    forgetAbsent(this.stalled, present);
    forgetAbsent(this.lastUsed, present);
    this.servers = servers;
    return servers;
  }
}

/** Drops memory of connections whose sockets are gone, so long-lived objects do not leak. */
function forgetAbsent(
  keys: Set<string> | Map<string, unknown>,
  present: ReadonlySet<string>,
): void {
  for (const key of keys.keys()) if (!present.has(key)) keys.delete(key);
}
