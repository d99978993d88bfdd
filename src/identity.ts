/**
 * Establishes who a peer is, before any Durable Object is touched. Dev mode (`npm start`): the
 * peer declares it (`EdgeMQ-Identity` header or `?identity=`). Otherwise the relay fails closed:
 * signed tokens (EDGEMQ_SECRET) are the seam for the security issue and are refused until then.
 * Used by the WebSocket routes.
 */

import { readSettings } from "../durable-objects/shared/settings.js";
import { EdgeMQError, ERROR_CODE, HEADERS, isIdentity } from "../protocol/index.js";
import type { Env } from "./env.js";

/** The identity `request` may act as; throws `unauthorized` or `bad_request` otherwise. */
export function establishIdentity(request: Request, env: Env): string {
  if (readSettings(env).devMode) return declaredIdentity(request);
  if (!env.EDGEMQ_SECRET) {
    throw new EdgeMQError(ERROR_CODE.unauthorized, "relay has no EDGEMQ_SECRET configured");
  }
  // Seam: verify a signed token against EDGEMQ_SECRET here and return its subject.
  throw new EdgeMQError(ERROR_CODE.unauthorized, "token authentication is not available yet");
}

function declaredIdentity(request: Request): string {
  const declared =
    request.headers.get(HEADERS.identity) ?? new URL(request.url).searchParams.get("identity");
  if (declared === null || declared === "") {
    const message = `dev mode: declare an identity with the ${HEADERS.identity} header or ?identity=`;
    throw new EdgeMQError(ERROR_CODE.unauthorized, message);
  }
  if (!isIdentity(declared)) {
    const message = "identity must be 1-128 of A-Z a-z 0-9 . _ : @ + = -";
    throw new EdgeMQError(ERROR_CODE.badRequest, message);
  }
  return declared;
}
