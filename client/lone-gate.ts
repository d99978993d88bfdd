/**
 * The peer-wide "lone gate": a request's last allowed dispatch after a lost lease (`attempt` 2 or
 * more and at least the relay's maxAttempts: runsAlone) may be a poison request whose handler
 * crashes the process. The relay gives it to a connection holding nothing else, but each queue
 * partition sees only its own connections, and one peer serves several queues and partitions. So
 * every service of a peer shares one gate: a lone dispatch starts its handler only when no other
 * handler of the peer runs, and while one waits or runs no other handler of the peer starts (the
 * others wait in their services, their leases renewed as waiting ones' are). Lone dispatches
 * start in arrival order; one whose deadline passes while it waits is dropped from the gate (its
 * service drops it too: admit() answers "drop"). A handler counts from start() until its release
 * (its slot freed: answered, or its request ended by the relay). Used by service.ts (which asks
 * again at each wake, #startWaiting) and http-service.ts (which waits in enterGate).
 */

import { isLoneDispatch } from "../protocol/index.js";
import { type AbortSignalLike, startTimer, stopTimer, type TimerHandle } from "./platform.js";

/** Whether a dispatch runs alone in the peer: the protocol's rule, in the dispatch's attempt. */
export const runsAlone = isLoneDispatch;

/** What a dispatch may do now: start its handler, wait, or be dropped (a lone one past its deadline). */
export type Admission = "start" | "wait" | "drop";

export class LoneGate {
  /** Lone dispatches waiting, in arrival order, with their deadlines. */
  readonly #lone = new Map<object, number>();
  /** Other handlers running. */
  #running = 0;
  #loneRunning = false;
  readonly #listeners = new Set<() => void>();
  #expiry: TimerHandle | undefined;
  /**
   * Set from a release that a lone start may follow until the next macrotask: the answers the
   * ended handlers handed to their sockets (sent at a microtask) go out before a poison request's
   * handler may kill the process, and a lone one's answer before the next handler starts.
   */
  #settling: TimerHandle | undefined;
  /** Lone tickets whose deadline passed while they waited: their services drop them. */
  readonly #expired = new WeakSet<object>();

  /** A dispatch arrived: a lone one holds every other start in the peer off from now. */
  arrive(ticket: object, lone: boolean, deadline: number): void {
    if (!lone) return;
    this.#lone.set(ticket, deadline);
    this.#armExpiry();
  }

  /** Whether `ticket` may start now (then call start()), must wait, or is over (lone, expired). */
  admit(ticket: object): Admission {
    if (this.#expired.has(ticket)) return "drop";
    if (this.#loneRunning || this.#settling !== undefined) return "wait";
    if (!this.#lone.has(ticket)) return this.#lone.size === 0 ? "start" : "wait";
    const first = this.#lone.keys().next().value;
    return this.#running === 0 && first === ticket ? "start" : "wait";
  }

  /** Starts `ticket`'s handler (admitted). Returns its release: call it once its slot is free. */
  start(ticket: object): () => void {
    const lone = this.#lone.delete(ticket);
    if (lone) this.#loneRunning = true;
    else this.#running++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (lone) this.#loneRunning = false;
      else this.#running--;
      if (lone || this.#lone.size > 0) this.#settle();
      else this.#wake();
    };
  }

  /** A waiting dispatch left (cancelled, dropped): a lone one no longer holds others off. */
  leave(ticket: object): void {
    if (this.#lone.delete(ticket)) this.#wake();
  }

  /** Calls `wake` whenever the gate may let a waiting dispatch start. Returns its removal. */
  listen(wake: () => void): () => void {
    this.#listeners.add(wake);
    return () => this.#listeners.delete(wake);
  }

  /** Drops lone tickets past their deadline; true if any was. */
  #expire(): boolean {
    const now = Date.now();
    let dropped = false;
    for (const [ticket, deadline] of this.#lone) {
      if (deadline > now) continue;
      this.#lone.delete(ticket);
      this.#expired.add(ticket);
      dropped = true;
    }
    return dropped;
  }

  /** A timer at the earliest waiting lone deadline, so the others start once it passes. */
  #armExpiry(): void {
    stopTimer(this.#expiry);
    this.#expiry = undefined;
    let earliest: number | undefined;
    for (const deadline of this.#lone.values()) {
      if (earliest === undefined || deadline < earliest) earliest = deadline;
    }
    if (earliest === undefined) return;
    this.#expiry = startTimer(
      () => {
        this.#expiry = undefined;
        if (this.#expire()) this.#wake();
        else this.#armExpiry();
      },
      Math.max(0, earliest - Date.now()) + 1,
    );
  }

  /** Holds every start off until the next macrotask, then wakes the services. */
  #settle(): void {
    stopTimer(this.#settling);
    this.#settling = startTimer(() => {
      this.#settling = undefined;
      this.#wake();
    }, 0);
  }

  #wake(): void {
    this.#armExpiry();
    for (const wake of [...this.#listeners]) wake();
  }
}

/**
 * Waits until `gate` admits `ticket` (arrived), then starts it: resolves with its release, or
 * undefined once `signal` aborts (its request ended: it leaves the gate) or the gate drops it.
 */
export function enterGate(
  gate: LoneGate,
  ticket: object,
  signal: AbortSignalLike,
): Promise<(() => void) | undefined> {
  return new Promise((resolve) => {
    let stop = () => {};
    const done = (release: (() => void) | undefined) => {
      stop();
      signal.removeEventListener("abort", aborted);
      resolve(release);
    };
    const aborted = () => {
      gate.leave(ticket);
      done(undefined);
    };
    const check = () => {
      const admission = gate.admit(ticket);
      if (admission !== "wait") done(admission === "start" ? gate.start(ticket) : undefined);
    };
    if (signal.aborted) {
      aborted();
      return;
    }
    stop = gate.listen(check);
    signal.addEventListener("abort", aborted, { once: true });
    check();
  });
}
