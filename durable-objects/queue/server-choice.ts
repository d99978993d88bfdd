/**
 * Pure choice of the server connection that gets the next dispatch: one with free capacity
 * (in flight below its concurrency), not stalled, not holding a request that runs alone, not
 * kept free for one, that was least recently used; ties go to the older connection. A request
 * that runs alone (lease-rules.ts runsAlone) goes to an idle server (chooseIdleServer); when none
 * is idle, one is kept free for it (serverToKeepFree). Used by dispatcher.ts; unit-tested in
 * test/unit/queue/server-choice.test.ts.
 */
import type { ServerAttachment } from "./server-attachment.js";

export interface ServerLoad {
  connId: string;
  /** Requests it may hold at once (0: draining). */
  concurrency: number;
  /** Requests leased to it now. */
  inFlight: number;
  /** Sequence number of its last dispatch (0: never); a counter, not a clock. */
  lastUsed: number;
  /** A lease of its ran out with no word from it since (server-registry.ts): given nothing. */
  stalled?: boolean;
  /** It holds a request that runs alone (lease-rules.ts runsAlone): given nothing else. */
  alone?: boolean;
}

/** A connected server as dispatch sees it: its load, its socket and what the socket carries. */
export interface LiveServer extends ServerLoad {
  ws: WebSocket;
  attachment: ServerAttachment;
}

export function freeCapacity(server: ServerLoad): number {
  return Math.max(0, server.concurrency - server.inFlight);
}

/**
 * The server that should take the next request, or `undefined` when all are full. Servers in
 * `keptFree` (connection ids) are passed over: each is draining for a request that runs alone.
 */
export function chooseServer<S extends ServerLoad>(
  servers: readonly S[],
  keptFree?: ReadonlySet<string>,
): S | undefined {
  let best: S | undefined;
  for (const server of servers) {
    if (freeCapacity(server) === 0 || !takesWork(server)) continue;
    if (keptFree?.has(server.connId) === true) continue;
    if (best === undefined || server.lastUsed < best.lastUsed) best = server;
  }
  return best;
}

/** The least recently used server that holds nothing and takes work, for a request that runs alone. */
export function chooseIdleServer<S extends ServerLoad>(servers: readonly S[]): S | undefined {
  let best: S | undefined;
  for (const server of servers) {
    if (server.inFlight > 0 || server.concurrency === 0 || !takesWork(server)) continue;
    if (best === undefined || server.lastUsed < best.lastUsed) best = server;
  }
  return best;
}

/**
 * The server to keep free (given nothing new) until it holds nothing, for a request that runs
 * alone and found no idle server: the one holding fewest, then the least recently used, so the
 * same server stays chosen from one dispatch pass to the next while it drains. Not one in
 * `keptFree` already; `undefined` when no server takes work.
 */
export function serverToKeepFree<S extends ServerLoad>(
  servers: readonly S[],
  keptFree: ReadonlySet<string>,
): S | undefined {
  let best: S | undefined;
  for (const server of servers) {
    if (server.concurrency === 0 || !takesWork(server) || keptFree.has(server.connId)) continue;
    if (best === undefined || fewerOrOlder(server, best)) best = server;
  }
  return best;
}

function takesWork(server: ServerLoad): boolean {
  return server.stalled !== true && server.alone !== true;
}

function fewerOrOlder(a: ServerLoad, b: ServerLoad): boolean {
  return a.inFlight < b.inFlight || (a.inFlight === b.inFlight && a.lastUsed < b.lastUsed);
}
