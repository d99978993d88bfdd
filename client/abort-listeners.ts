/**
 * One `abort` listener per caller's AbortSignal, however many of the peer's unfinished requests
 * share it (a program's shutdown signal passed to every request): each request adds its own
 * callback here instead of a listener on the signal, so Node does not warn
 * `MaxListenersExceededWarning: Possible EventTarget memory leak detected. 11 abort listeners
 * added to [AbortSignal]` at the eleventh concurrent request (a probe: 50 requests sharing one
 * signal, over either transport). The signal's listener goes once no request waits on it, so a
 * long-lived signal holds nothing between requests. Used by requester.ts and http-requester.ts,
 * and by http-link.ts for the signal an HTTP service's take loops all share.
 */
import type { AbortSignalLike } from "./platform.js";

/** The callbacks waiting on one signal, and the one listener the signal holds for them. */
interface Waiting {
  readonly callbacks: Set<() => void>;
  readonly fire: () => void;
}

const bySignal = new WeakMap<AbortSignalLike, Waiting>();

/**
 * Calls `callback` once when `signal` aborts, unless the returned function is called first.
 * Callbacks of one signal run in the order they were added, as listeners would.
 */
export function onAbort(signal: AbortSignalLike, callback: () => void): () => void {
  let waiting = bySignal.get(signal);
  if (waiting === undefined) {
    const callbacks = new Set<() => void>();
    const fire = () => {
      bySignal.delete(signal);
      // One removed meanwhile (by an earlier one) is not called, as a removed listener is not.
      for (const waiter of [...callbacks]) if (callbacks.has(waiter)) waiter();
      callbacks.clear();
    };
    waiting = { callbacks, fire };
    bySignal.set(signal, waiting);
    signal.addEventListener("abort", fire, { once: true });
  }
  const { callbacks, fire } = waiting;
  // A distinct function per call: the same callback added twice is two waiters, as with requests.
  const waiter = () => callback();
  callbacks.add(waiter);
  return () => {
    if (!callbacks.delete(waiter) || callbacks.size > 0) return;
    if (bySignal.get(signal)?.callbacks === callbacks) bySignal.delete(signal);
    signal.removeEventListener("abort", fire);
  };
}
