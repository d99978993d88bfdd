/**
 * Why a WebSocket connection failed, when the platform hides it: browsers report a refused
 * upgrade (401, 403, 400) as a bare close 1006, and Node's `ws` gives its status but not the
 * relay's message. connect(), and a socket whose reconnects keep failing as a bare 1006
 * (connection.ts), then ask the relay over HTTP (`GET /v1/whoami` with the same credentials) and
 * take the relay's own typed error, which says what is wrong with the identity or token. A
 * service's socket then asks its own route (`GET /v1/queues/{q}/serve`, which answers a plain GET
 * with the upgrade's refusal, else 426), for what whoami cannot tell: a token without the server
 * role or this queue. Used by peer.ts; anything that goes wrong here, or an answer that is no
 * refusal, keeps the original error.
 */
import { type EdgeMQError, ERROR_CODE } from "../protocol/index.js";
import type { BackoffOptions } from "./backoff.js";
import { connectAnswerError, HttpLink, resolveFetch } from "./http-link.js";
import { createAbortController, startTimer, stopTimer } from "./platform.js";
import type { Credentials } from "./url.js";

/** Failures whoami may explain: a hidden refusal (closed), or one known only by its status. */
const EXPLAINED = new Set<string>([
  ERROR_CODE.closed,
  ERROR_CODE.unauthorized,
  ERROR_CODE.forbidden,
  ERROR_CODE.badRequest,
]);

/** Longest the whoami call may take: past it the original error stands (connect never hangs). */
export const EXPLAIN_TIMEOUT_MS = 3_000;

export async function explainRefusal(
  url: string,
  credentials: Credentials,
  backoff: BackoffOptions,
  error: EdgeMQError,
  path = "/v1/whoami",
): Promise<EdgeMQError> {
  if (!EXPLAINED.has(error.code)) return error;
  const controller = createAbortController();
  let timer: ReturnType<typeof startTimer> | undefined;
  const timedOut = new Promise<undefined>((resolve) => {
    timer = startTimer(() => {
      controller.abort(error);
      resolve(undefined);
    }, EXPLAIN_TIMEOUT_MS);
  });
  try {
    const link = new HttpLink(url, credentials, resolveFetch(undefined), backoff);
    const answer = await Promise.race([link.call("GET", path, {}, controller.signal), timedOut]);
    // 426: a route that would take the upgrade (the socket's failure was no refusal).
    const refused = answer !== undefined && answer.status >= 400 && answer.status !== 426;
    return refused ? connectAnswerError(url, answer) : error;
  } catch {
    return error;
  } finally {
    stopTimer(timer);
  }
}
