/**
 * The SDK socket's keep-alive, used by connection.ts. The relay answers `ping` with `pong` by
 * auto-response, without waking its object. An idle socket pings every HEARTBEAT_INTERVAL_MS; a
 * busy one (a client awaiting replies; every server socket) every HEARTBEAT_BUSY_INTERVAL_MS, so a
 * socket gone half-open (no FIN, writes still accepted) is found before those requests' leases and
 * deadlines run out. The socket is called dead once a ping has gone HEARTBEAT_MISSES intervals (of
 * the current pace) with nothing received since. Anything received counts (`heard`).
 */
import {
  HEARTBEAT_BUSY_INTERVAL_MS,
  HEARTBEAT_INTERVAL_MS,
  HEARTBEAT_MISSES,
  PING_MESSAGE,
} from "../protocol/index.js";
import { startTimer, stopTimer, type TimerHandle } from "./platform.js";
import { OPEN, trySend, type WebSocketLike } from "./websocket.js";

/** The heartbeat ticks at the busy pace; an idle socket pings every IDLE_TICKS ticks. */
const TICK_MS = HEARTBEAT_BUSY_INTERVAL_MS;
const IDLE_TICKS = Math.round(HEARTBEAT_INTERVAL_MS / TICK_MS);

export interface HeartbeatHooks {
  /** False once `socket` is no longer its connection's socket: the heartbeat stops quietly. */
  isCurrent(): boolean;
  /** Called once (and the heartbeat stops) when the socket is judged dead. */
  onTimeout(): void;
  /** True while the owner waits on this socket for something (requests, leases): ping faster. */
  isBusy?: (() => boolean) | undefined;
}

export class Heartbeat {
  #timer: TimerHandle | undefined;
  /** Ticks since the last ping went out. */
  #ticksSincePing = 0;
  /** Ticks since the first ping sent after anything was last heard; undefined if none since. */
  #unansweredTicks: number | undefined;

  /** Pings `socket` until `hooks.isCurrent()` turns false or the socket times out. */
  start(socket: WebSocketLike, hooks: HeartbeatHooks): void {
    this.stop();
    this.#ticksSincePing = 0;
    this.#unansweredTicks = undefined;
    const tick = () => {
      this.#timer = undefined;
      if (!hooks.isCurrent()) return;
      const busy = hooks.isBusy?.() === true;
      if (this.#timedOut(busy)) {
        hooks.onTimeout();
        return;
      }
      this.#maybePing(socket, busy);
      this.#timer = startTimer(tick, TICK_MS);
    };
    this.#timer = startTimer(tick, TICK_MS);
  }

  /** One more tick with the oldest unanswered ping: has it waited too long at this pace? */
  #timedOut(busy: boolean): boolean {
    if (this.#unansweredTicks === undefined) return false;
    this.#unansweredTicks += 1;
    return this.#unansweredTicks >= (busy ? 1 : IDLE_TICKS) * HEARTBEAT_MISSES;
  }

  #maybePing(socket: WebSocketLike, busy: boolean): void {
    this.#ticksSincePing += 1;
    if (!busy && this.#ticksSincePing < IDLE_TICKS) return;
    if (socket.readyState === OPEN) trySend(socket, PING_MESSAGE);
    this.#ticksSincePing = 0;
    this.#unansweredTicks ??= 0;
  }

  /** Something arrived from the relay: the socket is alive. */
  heard(): void {
    this.#unansweredTicks = undefined;
  }

  stop(): void {
    stopTimer(this.#timer);
    this.#timer = undefined;
  }
}
