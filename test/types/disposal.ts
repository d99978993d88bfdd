/**
 * Type-level check that a peer and a service are async-disposable (`await using`), as README
 * says: both close() at the end of the scope. Compiled by `npm run typecheck`
 * (tsconfig.types.json, whose lib has no esnext.disposable: the SDK declares the symbol itself);
 * nothing here runs.
 */
import type { Peer, Service } from "../../client/index.js";

interface AsyncDisposableLike {
  [Symbol.asyncDispose](): Promise<void>;
}

export function disposables(peer: Peer): AsyncDisposableLike[] {
  const service: Service = peer.serve("orders", () => {});
  return [peer, service];
}
