/**
 * The few runtime globals the SDK needs beyond ECMAScript (timers, AbortController, crypto, a
 * page's `pagehide` and `online`), typed
 * here because the SDK compiles without Node or DOM types. Every runtime EdgeMQ supports (Node 20+,
 * browsers, Workers, Deno, Bun) provides them. Used by every other file in client/.
 */

/** An opaque timer handle (a number in browsers, an object in Node). */
export type TimerHandle = { readonly __timer: unique symbol } | number;

declare function setTimeout(callback: () => void, ms: number): TimerHandle;
declare function clearTimeout(handle: TimerHandle | undefined): void;

export function startTimer(callback: () => void, ms: number): TimerHandle {
  return setTimeout(callback, ms);
}

export function stopTimer(handle: TimerHandle | undefined): void {
  if (handle !== undefined) clearTimeout(handle);
}

/** The part of AbortSignal the SDK reads; the platform's AbortSignal satisfies it. */
export interface AbortSignalLike {
  readonly aborted: boolean;
  readonly reason?: unknown;
  addEventListener(type: "abort", listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: "abort", listener: () => void): void;
}

/** The platform's AbortSignal type where the user's program has one, else the minimal shape. */
export type PlatformAbortSignal = typeof globalThis extends { AbortSignal: { prototype: infer S } }
  ? S
  : AbortSignalLike;

declare const AbortController: new () => {
  readonly signal: PlatformAbortSignal & AbortSignalLike;
  abort(reason?: unknown): void;
};

export function createAbortController(): {
  readonly signal: PlatformAbortSignal & AbortSignalLike;
  abort(reason?: unknown): void;
} {
  return new AbortController();
}

let counter = 0;

/** A random unique id: crypto.randomUUID where present, else random hex plus a counter. */
export function randomId(): string {
  const crypto: unknown = Reflect.get(globalThis, "crypto");
  if (typeof crypto === "object" && crypto !== null && "randomUUID" in crypto) {
    const make = crypto.randomUUID;
    if (typeof make === "function") {
      const id: unknown = make.call(crypto);
      if (typeof id === "string") return id;
    }
  }
  counter = (counter + 1) % 0x100000;
  const random = () =>
    Math.floor(Math.random() * 0x100000000)
      .toString(16)
      .padStart(8, "0");
  return `${random()}${random()}-${counter.toString(16)}`;
}

/**
 * Calls `listener` when the page is hidden for good or for the back/forward cache (`pagehide`:
 * a tab closed, reloaded or navigated away), in a browser page; elsewhere (Node, Workers, Deno,
 * Bun, a worker thread) never. Returns the function that removes it.
 */
export function onPageHide(listener: () => void): () => void {
  const page: unknown = Reflect.get(globalThis, "document");
  const add: unknown = Reflect.get(globalThis, "addEventListener");
  const remove: unknown = Reflect.get(globalThis, "removeEventListener");
  if (typeof page !== "object" || page === null) return () => {};
  if (typeof add !== "function" || typeof remove !== "function") return () => {};
  Reflect.apply(add, globalThis, ["pagehide", listener]);
  return () => Reflect.apply(remove, globalThis, ["pagehide", listener]);
}

/**
 * Calls `listener` each time the browser says the network is back (`online`: a page or a web
 * worker whose device reconnected); elsewhere (Node, Deno, Bun, Workers: no `navigator.onLine`)
 * never. Returns the function that removes it.
 */
export function onNetworkBack(listener: () => void): () => void {
  const navigator: unknown = Reflect.get(globalThis, "navigator");
  const add: unknown = Reflect.get(globalThis, "addEventListener");
  const remove: unknown = Reflect.get(globalThis, "removeEventListener");
  if (typeof navigator !== "object" || navigator === null || !("onLine" in navigator)) {
    return () => {};
  }
  if (typeof add !== "function" || typeof remove !== "function") return () => {};
  Reflect.apply(add, globalThis, ["online", listener]);
  return () => Reflect.apply(remove, globalThis, ["online", listener]);
}
