/**
 * GET /v1/whoami: who the relay takes the caller for ({identity, roles, protocol, limits}), as a
 * WebSocket's welcome tells it, and the HTTP API's `features` past the first version's (the SDK
 * uses `GET /v1/outcomes` only where "outcomes" is listed, and asks for a short HTTP lease,
 * `?lease=`, only where "lease" is). Any valid identity or token may ask (no role needed); the SDK's
 * HTTP transport calls it at connect() so a bad URL or token fails there. No object is woken.
 */
import type { Context } from "hono";
import { readSettings } from "../../durable-objects/shared/settings.js";
import { LEASE_FEATURE, OUTCOMES_FEATURE, PROTOCOL_VERSION } from "../../protocol/index.js";
import type { Env } from "../env.js";
import { establishPrincipal } from "../identity.js";

export async function whoami(c: Context<{ Bindings: Env }>): Promise<Response> {
  const principal = await establishPrincipal(c.req.raw, c.env);
  return c.json({
    identity: principal.identity,
    roles: [...principal.roles].sort(),
    protocol: PROTOCOL_VERSION,
    limits: readSettings(c.env).limits,
    features: [OUTCOMES_FEATURE, LEASE_FEATURE],
  });
}
