/**
 * `connect(url, { transport: "auto" })`: a WebSocket first, and plain HTTP when WebSockets cannot
 * get through (a proxy that refuses or holds the upgrade, a platform without WebSocket) while the
 * relay answers HTTP, as SignalR and Socket.IO fall back to long polling. The WebSocket attempt
 * gets AUTO_WEBSOCKET_WAIT_MS for its welcome; whatever ends it, the HTTP transport's own
 * `GET /v1/whoami` decides: it answers the relay's refusal (a bad token is refused on both), or
 * connects. Used by peer.ts; the attempts are passed in, so this orchestration unit-tests alone.
 */
import { EdgeMQError, ERROR_CODE } from "../protocol/index.js";
import type { Peer } from "./peer-api.js";
import { startTimer, stopTimer } from "./platform.js";

/** How long a WebSocket may take to be welcomed before `auto` gives up on it: 10 s. */
export const AUTO_WEBSOCKET_WAIT_MS = 10_000;

/** A WebSocket connection under way: its peer once welcomed, and how to stop it. */
export interface WebSocketAttempt {
  opened: Promise<Peer>;
  /** Stops the attempt (and closes its peer if it opens later). */
  abandon(): void;
}

export interface AutoAttempts {
  websocket(): WebSocketAttempt;
  http(): Promise<Peer>;
  /** Default AUTO_WEBSOCKET_WAIT_MS. */
  waitMs?: number;
}

export async function connectAuto(attempts: AutoAttempts): Promise<Peer> {
  const first = await websocketOutcome(attempts);
  if (first instanceof EdgeMQError) {
    try {
      return await attempts.http();
    } catch (error) {
      throw bothFailed(first, EdgeMQError.from(error));
    }
  }
  return first;
}

/** The welcomed WebSocket peer, or why there is none (failed, or no welcome in time). */
async function websocketOutcome(attempts: AutoAttempts): Promise<Peer | EdgeMQError> {
  const waitMs = attempts.waitMs ?? AUTO_WEBSOCKET_WAIT_MS;
  let attempt: WebSocketAttempt;
  try {
    attempt = attempts.websocket();
  } catch (error) {
    return EdgeMQError.from(error);
  }
  attempt.opened.catch(() => {});
  let timer: ReturnType<typeof startTimer> | undefined;
  const late = new Promise<EdgeMQError>((resolve) => {
    timer = startTimer(() => {
      attempt.abandon();
      resolve(new EdgeMQError(ERROR_CODE.closed, `no welcome over WebSocket within ${waitMs} ms`));
    }, waitMs);
  });
  try {
    return await Promise.race([attempt.opened, late]);
  } catch (error) {
    return EdgeMQError.from(error);
  } finally {
    stopTimer(timer);
  }
}

/**
 * The error `connect` rejects with when neither transport connected: the relay's refusal when
 * HTTP reached it (it refuses the same credentials on both), else both transports' reasons.
 */
function bothFailed(websocket: EdgeMQError, http: EdgeMQError): EdgeMQError {
  if (http.code !== ERROR_CODE.closed) return http;
  const message = `could not connect over WebSocket (${websocket.message}) nor over HTTP (${http.message})`;
  return new EdgeMQError(ERROR_CODE.closed, message, { cause: http });
}
