/**
 * GET /healthz: liveness and the protocol version, answered by the Worker alone (no object woken).
 */
import type { Context } from "hono";
import { PROTOCOL_VERSION } from "../../protocol/index.js";
import type { Env } from "../env.js";

export function health(c: Context<{ Bindings: Env }>): Response {
  return c.json({ ok: true, protocol: PROTOCOL_VERSION });
}
