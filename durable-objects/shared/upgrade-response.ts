/**
 * The 101 answer a Durable Object gives a WebSocket upgrade. When the peer offered subprotocols
 * and `edgemq` is among them, the answer selects `edgemq` (a browser fails a connection whose
 * offered subprotocols get no answer). The token subprotocol (`edgemq.token.<jwt>`) is never
 * echoed, so the token does not travel back or land in a log of response headers.
 */
import { SUBPROTOCOL } from "../../protocol/index.js";
import { offeredSubprotocols } from "../../src/identity.js";

/** The subprotocol to select for `request`, if any. */
export function selectedSubprotocol(request: Request): string | undefined {
  return offeredSubprotocols(request).includes(SUBPROTOCOL) ? SUBPROTOCOL : undefined;
}

export function webSocketAccepted(request: Request, webSocket: WebSocket): Response {
  const protocol = selectedSubprotocol(request);
  const headers: HeadersInit = protocol === undefined ? {} : { "Sec-WebSocket-Protocol": protocol };
  return new Response(null, { status: 101, webSocket, headers });
}
