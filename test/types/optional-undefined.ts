/**
 * Type-level check that every option of connect(), request() and serve() may be given as
 * undefined (meaning the default, as the SDK reads it at run time), also under
 * `exactOptionalPropertyTypes` (tsconfig.base.json; @tsconfig/strictest sets it too): a value
 * read from the environment or a caller's own optional field passes as it is. Compiled by
 * `npm run typecheck` (tsconfig.types.json); nothing here runs.
 */
import { connect, type Peer } from "../../client/index.js";

declare const maybeString: string | undefined;
declare const maybeNumber: number | undefined;
declare const maybeBoolean: boolean | undefined;
declare const maybeSignal: AbortSignal | undefined;

// A newcomer probe: connect(url, { token: process.env.EDGEMQ_TOKEN }), as the examples do in
// JavaScript, did not compile under exactOptionalPropertyTypes.
export const peer = () =>
  connect("wss://relay.example", {
    identity: maybeString,
    token: maybeString,
    transport: undefined,
    route: undefined,
    fetch: undefined,
    WebSocket: undefined,
    reconnect: { minDelayMs: maybeNumber, maxDelayMs: maybeNumber },
    maxPendingRequests: maybeNumber,
  });

export async function calls(p: Peer): Promise<void> {
  await p.request("q", 1, {
    timeout: maybeNumber,
    failFast: maybeBoolean,
    headers: undefined,
    signal: maybeSignal,
  });
  p.serve("q", () => 1, { concurrency: maybeNumber });
}
