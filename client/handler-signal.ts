/**
 * The abort signal a server's handler may read (`ServeRequest.signal`), made the first time it is
 * read: an AbortController and a deadline timer for every dispatch were ~10% of a Node server
 * peer's CPU in a serial run (perf, bench/README.md), and most handlers never look. Once made, it
 * aborts when the relay cancels the request or the request's deadline passes; read after either,
 * it is already aborted. Used by service.ts.
 */
import { EdgeMQError, ERROR_CODE } from "../protocol/index.js";
import {
  type AbortSignalLike,
  createAbortController,
  type PlatformAbortSignal,
  startTimer,
  stopTimer,
  type TimerHandle,
} from "./platform.js";

/**
 * The reason a handler's signal gives when the relay ends its request, on either transport: a
 * `cancel` frame over WebSocket, a refused lease renewal over HTTP. The relay does not say which
 * of these it was.
 */
export const RELAY_ENDED_MESSAGE =
  "the relay ended this request (cancelled by its client, answered elsewhere, or its lease lost)";

export class HandlerSignal {
  #controller: ReturnType<typeof createAbortController> | undefined;
  #reason: unknown;
  #timer: TimerHandle | undefined;
  #done = false;

  /** `deadline`: epoch milliseconds after which the signal is aborted with `timeout`. */
  constructor(private readonly deadline: number) {}

  get signal(): PlatformAbortSignal & AbortSignalLike {
    if (this.#controller === undefined) {
      const controller = createAbortController();
      this.#controller = controller;
      const left = this.deadline - Date.now();
      if (this.#reason === undefined && left <= 0) this.#reason = deadlinePassed();
      if (this.#reason !== undefined) controller.abort(this.#reason);
      else if (!this.#done) this.#timer = startTimer(() => this.abort(deadlinePassed()), left);
    }
    return this.#controller.signal;
  }

  /** Aborts the signal (now, or as soon as it is made); the first reason stays. */
  abort(reason: unknown): void {
    if (this.#reason !== undefined) return;
    this.#reason = reason;
    stopTimer(this.#timer);
    this.#controller?.abort(reason);
  }

  /** The handler finished: no deadline timer is left behind. */
  done(): void {
    this.#done = true;
    stopTimer(this.#timer);
    this.#timer = undefined;
  }
}

function deadlinePassed(): EdgeMQError {
  return new EdgeMQError(ERROR_CODE.timeout, "the request's deadline passed");
}
