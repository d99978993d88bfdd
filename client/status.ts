/**
 * Connection status as a discriminated union, and the feed behind `peer.status()`: every call
 * returns a fresh async iterable that yields the statuses emitted after it was made, and ends after
 * `closed`. Used by peer.ts (the feed) and connection.ts / service.ts (the events).
 */
import type { EdgeMQError } from "../protocol/index.js";

/**
 * Untagged statuses are the peer's client socket (/v1/connect), and its `error` after a drop for
 * good is final. `queue` tags a server socket's statuses; `partition` too when its queue has
 * several partitions (one socket each; docs/scaling.md). `queue` with `link: true` tags a queue
 * link's (connect option `route: "queue"`, the default): its `error` without a request means the
 * link ended for good (refused, replaced, token expired) and that queue's requests carry on over
 * /v1/connect, so it is not fatal. `closed` is the peer's only, after close().
 */
export type Status =
  | { type: "connected"; queue?: string; partition?: number; link?: true }
  | {
      type: "disconnected";
      code: number;
      reason: string;
      queue?: string;
      partition?: number;
      link?: true;
    }
  | {
      type: "reconnecting";
      attempt: number;
      delayMs: number;
      queue?: string;
      partition?: number;
      link?: true;
    }
  /**
   * The relay refused something the SDK sent (an `error` frame without a request id), or a socket
   * ended for good (the peer's client socket, a server socket, or a queue link: see above).
   */
  | { type: "error"; error: EdgeMQError; queue?: string; partition?: number; link?: true }
  | { type: "closed" };

/** Statuses a slow reader may have waiting before the oldest are dropped. */
const MAX_BUFFERED = 1_000;

export class StatusFeed {
  readonly #subscribers = new Set<Subscription>();
  #ended = false;

  emit(status: Status): void {
    if (this.#ended) return;
    for (const subscriber of this.#subscribers) subscriber.push(status);
    if (status.type === "closed") this.#ended = true;
  }

  subscribe(): AsyncIterable<Status> {
    const subscription = new Subscription(this.#subscribers);
    if (this.#ended) subscription.push({ type: "closed" });
    else this.#subscribers.add(subscription);
    return { [Symbol.asyncIterator]: () => subscription };
  }
}

/** One reader's buffered statuses; it leaves the feed after `closed` or when the loop breaks. */
class Subscription implements AsyncIterator<Status, undefined> {
  readonly #feed: Set<Subscription>;
  readonly #buffer: Status[] = [];
  #wake: (() => void) | undefined;
  #done = false;

  constructor(feed: Set<Subscription>) {
    this.#feed = feed;
  }

  push(status: Status): void {
    this.#buffer.push(status);
    if (this.#buffer.length > MAX_BUFFERED) this.#buffer.shift();
    this.#wake?.();
  }

  async next(): Promise<IteratorResult<Status, undefined>> {
    for (;;) {
      const status = this.#buffer.shift();
      if (status) {
        if (status.type === "closed") this.#leave();
        return { done: false, value: status };
      }
      if (this.#done) return { done: true, value: undefined };
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
      this.#wake = undefined;
    }
  }

  async return(): Promise<IteratorResult<Status, undefined>> {
    this.#leave();
    this.#buffer.length = 0;
    this.#wake?.();
    return { done: true, value: undefined };
  }

  #leave(): void {
    this.#done = true;
    this.#feed.delete(this);
  }
}
