/**
 * Pure choice of the server connection that gets the next dispatch: one with free capacity
 * (in flight below its concurrency), not stalled, that was least recently used; ties go to the
 * older connection. Used by dispatcher.ts; unit-tested in test/unit/queue/server-choice.test.ts.
 */

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
}

export function freeCapacity(server: ServerLoad): number {
  return Math.max(0, server.concurrency - server.inFlight);
}

/** The server that should take the next request, or `undefined` when all are full. */
export function chooseServer<S extends ServerLoad>(servers: readonly S[]): S | undefined {
  let best: S | undefined;
  for (const server of servers) {
    if (freeCapacity(server) === 0 || server.stalled === true) continue;
    if (best === undefined || server.lastUsed < best.lastUsed) best = server;
  }
  return best;
}
