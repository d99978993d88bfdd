/**
 * GET /v1/whoami: who the relay takes the caller for ({identity, roles, protocol, limits}), as a
 * WebSocket's welcome tells it. Any valid identity or token may ask (no role needed); the SDK's
 * HTTP transport calls it at connect() so a bad URL or token fails there. No object is woken.
 */
import type { Context } from "hono";
import { readSettings } from "../../durable-objects/shared/settings.js";
import { PROTOCOL_VERSION } from "../../protocol/index.js";
import type { Env } from "../env.js";
import { establishPrincipal } from "../identity.js";

export async function whoami(c: Context<{ Bindings: Env }>): Promise<Response> {
  const principal = await establishPrincipal(c.req.raw, c.env);
  return c.json({
    identity: principal.identity,
    roles: [...principal.roles].sort(),
    protocol: PROTOCOL_VERSION,
    limits: readSettings(c.env).limits,
  });
}
