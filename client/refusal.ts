/**
 * Why a WebSocket connection failed, when the platform hides it: browsers report a refused
 * upgrade (401, 403, 400) as a bare close 1006, without its status or body. connect(), and a
 * socket whose reconnects keep failing that way (connection.ts), then ask the relay over HTTP
 * (`GET /v1/whoami` with the same credentials) and take the relay's own typed error. Used by
 * peer.ts; anything that goes wrong here keeps the original error.
 */
import { type EdgeMQError, ERROR_CODE } from "../protocol/index.js";
import type { BackoffOptions } from "./backoff.js";
import { answerError, HttpLink, resolveFetch } from "./http-link.js";
import type { Credentials } from "./url.js";

export async function explainRefusal(
  url: string,
  credentials: Credentials,
  backoff: BackoffOptions,
  error: EdgeMQError,
): Promise<EdgeMQError> {
  if (error.code !== ERROR_CODE.closed) return error;
  try {
    const link = new HttpLink(url, credentials, resolveFetch(undefined), backoff);
    const answer = await link.call("GET", "/v1/whoami");
    return answer.status >= 400 ? answerError(answer) : error;
  } catch {
    return error;
  }
}
