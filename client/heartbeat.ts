/**
 * The SDK socket's keep-alive, used by connection.ts: a `ping` every HEARTBEAT_INTERVAL_MS (the
 * relay answers `pong` by auto-response, without waking its object), and a timeout once
 * HEARTBEAT_MISSES intervals passed with nothing received. Anything received counts (`heard`).
 */
import { HEARTBEAT_INTERVAL_MS, HEARTBEAT_MISSES, PING_MESSAGE } from "../protocol/index.js";
import { startTimer, stopTimer, type TimerHandle } from "./platform.js";
import { OPEN, trySend, type WebSocketLike } from "./websocket.js";

export class Heartbeat {
  #timer: TimerHandle | undefined;
  #misses = 0;

  /**
   * Pings `socket` while `isCurrent()` says it is still the connection's socket; calls
   * `onTimeout` (once, and stops) when HEARTBEAT_MISSES intervals passed without `heard()`.
   */
  start(socket: WebSocketLike, isCurrent: () => boolean, onTimeout: () => void): void {
    this.#misses = 0;
    const tick = () => {
      if (!isCurrent()) return;
      if (this.#misses >= HEARTBEAT_MISSES) {
        onTimeout();
        return;
      }
      this.#misses += 1;
      if (socket.readyState === OPEN) trySend(socket, PING_MESSAGE);
      this.#timer = startTimer(tick, HEARTBEAT_INTERVAL_MS);
    };
    this.#timer = startTimer(tick, HEARTBEAT_INTERVAL_MS);
  }

  /** Something arrived from the relay: the socket is alive. */
  heard(): void {
    this.#misses = 0;
  }

  stop(): void {
    stopTimer(this.#timer);
    this.#timer = undefined;
  }
}
