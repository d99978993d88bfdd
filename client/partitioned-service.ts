/**
 * A served queue over all of its partitions (docs/scaling.md): one SocketService per partition.
 * The first socket asks for the default partition; when its welcome says the queue has K > 1
 * partitions, the others (1 to K - 1) are opened with `?partition=p`, and the concurrency c asked
 * of serve() is split across them, each partition getting at least 1 (so a server holds at most
 * max(c, K) requests at once). A later welcome with another K opens the new partitions, or drains
 * and closes those beyond it. `ready` waits for every partition's welcome. close() drains every
 * partition. A partition's socket refused as `bad_request` (a Worker that still counts fewer
 * partitions: during a deploy that raised K, old instances answer for a while) opens again after
 * a backoff delay while the latest welcome still counts its partition; a lowered K retires it
 * instead. Created by SocketPeer.serve (peer.ts).
 */
import { EdgeMQError, ERROR_CODE, type WelcomeFrame } from "../protocol/index.js";
import { backoffDelay } from "./backoff.js";
import type { Service } from "./peer-api.js";
import { startTimer, stopTimer, type TimerHandle } from "./platform.js";
import { type Reopening, type ServiceSetup, SocketService } from "./service.js";

export interface PartitionedSetup extends Omit<ServiceSetup, "url" | "closed" | "partition"> {
  /** The server socket URL of one partition (undefined: the default one). */
  urlFor(partition: number | undefined): string;
  closed(service: PartitionedService): void;
}

/** Partition `partition`'s share of `concurrency` over `partitions`: an even split, at least 1. */
export function concurrencyShare(
  concurrency: number,
  partitions: number,
  partition: number,
): number {
  const base = Math.floor(concurrency / partitions);
  return Math.max(1, base + (partition < concurrency % partitions ? 1 : 0));
}

export class PartitionedService implements Service {
  readonly queue: string;
  /**
   * Resolves once every partition's socket was welcomed and sent `ready` (the first welcome names
   * K), so a failFast client of any partition finds this server connected.
   */
  readonly ready: Promise<void>;
  readonly #setup: PartitionedSetup;
  /** Index = partition. */
  readonly #services: SocketService[] = [];
  /** Sockets of partitions beyond a lowered count, finishing what they hold. */
  readonly #retired: SocketService[] = [];
  #closing: Promise<void> | undefined;
  /** Called when a welcome changed the partitions (#everyPartitionReady waits again). */
  #changed: () => void = () => {};
  /** Partitions whose refused socket opens again after a delay, and how often it was refused. */
  readonly #reopening = new Map<number, { timer: TimerHandle | undefined; refusals: number }>();
  /** Resolves when close() is called. */
  readonly #whenClosing: Promise<void>;
  #closingStarted: () => void = () => {};

  constructor(setup: PartitionedSetup) {
    this.#setup = setup;
    this.queue = setup.queue;
    this.#whenClosing = new Promise((resolve) => {
      this.#closingStarted = resolve;
    });
    const first = this.#open(undefined, setup.concurrency);
    this.ready = first.ready.then(() => this.#everyPartitionReady());
    this.ready.catch(() => {});
  }

  /** How many partitions this server serves (1 until the queue's welcome says more). */
  get partitions(): number {
    return this.#services.length;
  }

  /** Handlers running or waiting for a slot, over every partition. */
  get inHand(): number {
    const all = [...this.#services, ...this.#retired];
    return all.reduce((sum, service) => sum + service.inHand, 0);
  }

  /** Takes no more requests on any partition, finishes those in hand, then closes them all. */
  close(): Promise<void> {
    this.#closingStarted();
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #shutdown(): Promise<void> {
    for (const reopening of this.#reopening.values()) stopTimer(reopening.timer);
    const all = [...this.#services, ...this.#retired];
    await Promise.all(all.map((service) => service.close()));
    this.#setup.closed(this);
  }

  /** Waits for every partition's socket, again if a welcome changed K meanwhile. */
  async #everyPartitionReady(): Promise<void> {
    for (;;) {
      const waited = [...this.#services];
      const changed = new Promise<false>((resolve) => {
        this.#changed = () => resolve(false);
      });
      const all = Promise.all(waited.map((service, p) => this.#readyOrReopened(service, p)));
      if (await Promise.race([all.then(() => true), changed])) return;
    }
  }

  /**
   * Partition p's `ready`; when its socket was refused as `bad_request` (#refused opens it again),
   * the reopened socket's instead (a welcome calls #changed), or the refusal once close() is called.
   */
  #readyOrReopened(service: SocketService, p: number): Promise<void> {
    if (p === 0) return service.ready;
    return service.ready.catch((error: unknown) => {
      if (!isBadRequest(error)) throw error;
      return this.#whenClosing.then(() => {
        throw error;
      });
    });
  }

  #open(partition: number | undefined, concurrency: number, at?: number): SocketService {
    const setup = this.#setup;
    const service: SocketService = new SocketService({
      queue: setup.queue,
      handler: setup.handler,
      concurrency,
      url: setup.urlFor(partition),
      credentials: setup.credentials,
      WebSocket: setup.WebSocket,
      backoff: setup.backoff,
      reachability: setup.reachability,
      gate: setup.gate,
      explainRefusal: setup.explainRefusal,
      status: setup.status,
      ...(partition === undefined ? {} : { partition }),
      welcomed: (frame) => this.#welcomed(service, frame),
      closed: () => {},
      terminated: (error) => this.#refused(service, error),
    });
    if (at === undefined) this.#services.push(service);
    else this.#services[at] = service;
    return service;
  }

  /**
   * Partition p's socket was refused for good. As `bad_request`, the Worker that answered counts
   * fewer partitions than the welcome did: open it again after a delay (returned), unless a
   * welcome retired it meanwhile (K lowered) or the service closes. Any other refusal (a token)
   * stands (undefined).
   */
  #refused(service: SocketService, error: EdgeMQError): Reopening | undefined {
    const p = this.#services.indexOf(service);
    if (p < 1 || !isBadRequest(error) || this.#closing !== undefined) return undefined;
    const reopening = this.#reopening.get(p) ?? { timer: undefined, refusals: 0 };
    const delayMs = backoffDelay(reopening.refusals + 4, this.#setup.backoff);
    reopening.refusals += 1;
    reopening.timer = startTimer(() => {
      reopening.timer = undefined;
      if (this.#closing !== undefined || this.#services[p] !== service) return;
      const partitions = this.#services.length;
      this.#open(p, concurrencyShare(this.#setup.concurrency, partitions, p), p);
      this.#changed();
    }, delayMs);
    this.#reopening.set(p, reopening);
    return { attempt: reopening.refusals, delayMs };
  }

  /** The first partition's welcome names the partition count: open or close sockets to match. */
  #welcomed(service: SocketService, frame: WelcomeFrame): void {
    const p = this.#services.indexOf(service);
    if (p > 0) this.#reopening.delete(p);
    if (this.#closing !== undefined || p !== 0) return;
    const partitions = frame.partitions ?? 1;
    if (partitions === this.#services.length) return;
    const concurrency = this.#setup.concurrency;
    for (const gone of this.#services.splice(partitions)) {
      this.#retired.push(gone);
      void gone.close();
    }
    for (let p = this.#services.length; p < partitions; p++) {
      this.#open(p, concurrencyShare(concurrency, partitions, p));
    }
    this.#services.forEach((kept, p) => {
      kept.setConcurrency(concurrencyShare(concurrency, partitions, p));
    });
    this.#changed();
  }
}

function isBadRequest(error: unknown): boolean {
  return error instanceof EdgeMQError && error.code === ERROR_CODE.badRequest;
}
