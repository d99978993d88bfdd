/**
 * A served queue over all of its partitions (docs/scaling.md): one SocketService per partition.
 * The first socket asks for the default partition; when its welcome says the queue has K > 1
 * partitions, the others (1 to K - 1) are opened with `?partition=p`, and the concurrency c asked
 * of serve() is split across them, each partition getting at least 1 (so a server holds at most
 * max(c, K) requests at once). A later welcome with another K opens the new partitions, or drains
 * and closes those beyond it. `ready` waits for every partition's welcome. close() drains every
 * partition. Created by SocketPeer.serve (peer.ts).
 */
import type { WelcomeFrame } from "../protocol/index.js";
import type { Service } from "./peer-api.js";
import { type ServiceSetup, SocketService } from "./service.js";

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

  constructor(setup: PartitionedSetup) {
    this.#setup = setup;
    this.queue = setup.queue;
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
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
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
      const all = Promise.all(waited.map((service) => service.ready)).then(() => true);
      if (await Promise.race([all, changed])) return;
    }
  }

  #open(partition: number | undefined, concurrency: number): SocketService {
    const setup = this.#setup;
    const service = new SocketService({
      queue: setup.queue,
      handler: setup.handler,
      concurrency,
      url: setup.urlFor(partition),
      credentials: setup.credentials,
      WebSocket: setup.WebSocket,
      backoff: setup.backoff,
      reachability: setup.reachability,
      explainRefusal: setup.explainRefusal,
      status: setup.status,
      ...(partition === undefined ? {} : { partition }),
      welcomed: (frame) => this.#welcomed(service, frame),
      closed: () => {},
    });
    this.#services.push(service);
    return service;
  }

  /** The first partition's welcome names the partition count: open or close sockets to match. */
  #welcomed(service: SocketService, frame: WelcomeFrame): void {
    if (this.#closing !== undefined || service !== this.#services[0]) return;
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
