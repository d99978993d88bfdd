/**
 * GET /v1/connect: a peer's client WebSocket. Establishes the identity and forwards the upgrade to
 * the exchange object that holds that identity; the object's 101 response is returned untouched.
 * Any role may connect (the SDK opens this socket for every peer, servers included); sending a
 * request needs the client role, checked per request by the exchange (request-admission.ts).
 */
import type { Context } from "hono";
import { exchangeName, FORWARD_HEADERS } from "../../durable-objects/shared/contracts.js";
import { encodePrincipalHeader } from "../../durable-objects/shared/principal-header.js";
import { readSettings } from "../../durable-objects/shared/settings.js";
import type { Env } from "../env.js";
import { forwardRequest } from "../forward.js";
import { isWebSocketUpgrade, upgradeRequired } from "../http-error.js";
import { establishPrincipal } from "../identity.js";

export async function connect(c: Context<{ Bindings: Env }>): Promise<Response> {
  if (!isWebSocketUpgrade(c.req.raw)) return upgradeRequired();
  const principal = await establishPrincipal(c.req.raw, c.env);
  const identity = principal.identity;
  const name = exchangeName(identity, readSettings(c.env).exchangeShards);
  const forwarded = forwardRequest(c.req.raw, {
    [FORWARD_HEADERS.identity]: identity,
    [FORWARD_HEADERS.principal]: encodePrincipalHeader(principal),
  });
  return c.env.EXCHANGE.getByName(name).fetch(forwarded);
}
