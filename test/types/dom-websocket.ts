/**
 * Type-level check that the platform's own WebSocket (browsers, Deno, Bun, Workers, Node 22+:
 * the DOM's type) can be passed as the `WebSocket` option, as README names it the default.
 * Compiled by `npm run typecheck` (tsconfig.types.json); nothing here runs.
 */
import { connect, type WebSocketConstructor } from "../../client/index.js";

// A newcomer probe: this was refused, the DOM's onerror (an Event, with no `message`) not
// fitting ErrorEventLike, whose only property is optional.
export const platformWebSocket: WebSocketConstructor = globalThis.WebSocket;
export const peer = () => connect("wss://relay.example", { identity: "tab-1", WebSocket });
