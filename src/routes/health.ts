/**
 * GET /healthz: liveness and the protocol version, answered by the Worker alone (no object woken).
 * A relay that can admit no peer (neither a secret nor dev mode: it fails closed) answers 503
 * saying so, so a deployment that forgot its secret fails its health check. Settings it cannot
 * read answer 503 too, earlier (misconfigured.ts).
 */
import type { Context } from "hono";
import { PROTOCOL_VERSION } from "../../protocol/index.js";
import type { Env } from "../env.js";
import { admitsPeers, NO_SECRET_MESSAGE } from "../identity.js";

export function health(c: Context<{ Bindings: Env }>): Response {
  if (!admitsPeers(c.env)) {
    return c.json({ ok: false, protocol: PROTOCOL_VERSION, error: NO_SECRET_MESSAGE }, 503);
  }
  return c.json({ ok: true, protocol: PROTOCOL_VERSION });
}
