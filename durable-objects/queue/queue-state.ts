/**
 * The parts a QueueDO works with (request store, server registry, client links, lifecycle,
 * outcome delivery, frame outbox, HTTP takers, ready index, link rate limits, identities at their
 * exchange's outbox cap) and the store choice: SQLite until the queue's name is
 * known, then the store of its delivery mode (EDGEMQ_QUEUE_MODES). Also the transaction wrapper
 * (memory mode opens none). Used by queue-do.ts and the modules it delegates to.
 */
import { CLOSE_CODE, isQueueName, type RequestFrame } from "../../protocol/index.js";
import type { Env } from "../../src/env.js";
import { exchangeName } from "../shared/contracts.js";
import { deliveryMode } from "../shared/queue-modes.js";
import { type RelaySettings, readSettings } from "../shared/settings.js";
import { RateLimiter } from "../shared/token-bucket.js";
import { UnreadableFrames } from "../shared/unreadable-frames.js";
import { CappedIdentities } from "./capped-identities.js";
import { EarlyCancels } from "./early-cancels.js";
import { EarlyFinishes } from "./early-finishes.js";
import { FrameOutbox } from "./frame-outbox.js";
import { HttpTakers } from "./http-takers.js";
import { runsAlone } from "./lease-rules.js";
import { LinkRegistry } from "./link-registry.js";
import { MemoryRequestStore } from "./memory-request-store.js";
import { OutcomeDelivery } from "./outcome-delivery.js";
import { needsRebuild, ReadyIndex } from "./ready-index.js";
import { RequestLifecycle } from "./request-lifecycle.js";
import { SqlRequestStore } from "./request-store.js";
import { writeQueueName } from "./schema.js";
import { ServerRegistry } from "./server-registry.js";
import type { RequestStore } from "./store-contract.js";

export class QueueState {
  readonly settings: RelaySettings;
  /** SQLite (durable) or memory, chosen once the queue's name is known (chooseStore). */
  store: RequestStore;
  servers: ServerRegistry;
  readonly outbox = new FrameOutbox();
  lifecycle: RequestLifecycle;
  /** HTTP servers: waiting takes and recent presence (the HTTP API; http-takers.ts). */
  readonly takers = new HttpTakers();
  delivery: OutcomeDelivery;
  ready: ReadyIndex | undefined;
  /** Clients' queue links (the direct route; link-registry.ts). */
  readonly links: LinkRegistry;
  /** Per-identity request buckets for requests sent on links; in memory only. */
  readonly rateLimiter: RateLimiter;
  /** Each socket's budget of frames the relay could not read (unreadable-frames.ts). */
  readonly unreadable = new UnreadableFrames<WebSocket>();
  /** Identities at their exchange's cap on unacked outcomes (capped-identities.ts). */
  readonly capped: CappedIdentities;
  /** Finishes already sent down links and not yet written (durable mode; early-finishes.ts). */
  readonly early: EarlyFinishes;
  /** Cancels that came before their requests (early-cancels.ts); in memory only. */
  readonly earlyCancels = new EarlyCancels();
  /** Whether the store was chosen for the queue's delivery mode since this wake. */
  private storeChosen = false;

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly env: Env,
  ) {
    this.settings = readSettings(env);
    // A timer that sends held `accepted` frames writes held requests first (holdWrites).
    this.links = new LinkRegistry(ctx, () => this.writeHeld());
    this.rateLimiter = new RateLimiter(this.settings.rateLimit);
    const exchangeOf = (identity: string) =>
      env.EXCHANGE.getByName(exchangeName(identity, this.settings.exchangeShards));
    this.capped = new CappedIdentities(
      (identity) => exchangeOf(identity).capStatus(identity),
      (work) => ctx.waitUntil(work),
    );
    this.early = new EarlyFinishes(() => {
      // Writes held for quiet requests carry the finishes when they are written (writeHeld).
      if (this.holding) return;
      try {
        this.transaction(() => {});
      } catch (error) {
        console.error(JSON.stringify({ evt: "queue.early_finish_failed", error: String(error) }));
      }
    });
    this.store = new SqlRequestStore(ctx.storage.sql);
    this.servers = new ServerRegistry(ctx, this.store, this.maxAttempts);
    this.lifecycle = this.requestLifecycle();
    this.delivery = this.outcomeDelivery();
  }

  /**
   * Picks the request store for this queue's delivery mode (EDGEMQ_QUEUE_MODES) the first time
   * its name is known in this wake: given by the caller, or read from `meta`. Before that the
   * object holds nothing, so the SQLite store stands in. Memory mode's store starts empty, so a
   * queue switched to memory whose SQLite still holds unfinished requests or undelivered
   * outcomes stays durable for this wake (logged), serving them; the switch happens on a later
   * start that finds none.
   */
  chooseStore(queue?: string): void {
    if (this.storeChosen) return;
    const name = this.store.queueName() ?? (isQueueName(queue) ? queue : undefined);
    if (name === undefined) return;
    this.storeChosen = true;
    if (deliveryMode(this.settings.queueModes, name) !== "memory") return;
    const sql = this.ctx.storage.sql;
    if (holdsUnfinished(sql)) {
      console.error(
        JSON.stringify({
          evt: "queue.memory_mode_deferred",
          queue: name,
          reason:
            "EDGEMQ_QUEUE_MODES makes this queue memory-mode, but its SQLite still holds requests or outcomes from when it was durable: it stays durable until it starts with none",
        }),
      );
      return;
    }
    const known = this.store.queueName();
    this.store = new MemoryRequestStore((n) => writeQueueName(sql, n), known);
    this.servers = new ServerRegistry(this.ctx, this.store, this.maxAttempts);
    this.lifecycle = this.requestLifecycle();
    this.delivery = this.outcomeDelivery();
    this.ready = undefined;
  }

  /**
   * Memory mode writes nothing: no SQLite transaction (even an empty one may commit). A durable
   * transaction first writes the finishes sent early (early-finishes.ts), unless `keepEarly`
   * (the same event that sent them: writing them there would put their commit back on the path).
   */
  transaction<T>(fn: () => T, keepEarly = false): T {
    const store = this.store;
    if (store.mode === "memory") return fn();
    const writeEarly = () => {
      if (!keepEarly) this.early.write(store, (rid) => this.delivery.claimAck(rid));
    };
    if (store instanceof SqlRequestStore && store.holding) {
      // Writes are held (holdWrites): the statements wait; there is nothing to commit yet.
      try {
        writeEarly();
        return fn();
      } catch (error) {
        this.heldWritesLost(error);
        throw error;
      }
    }
    try {
      return this.ctx.storage.transactionSync(() => {
        writeEarly();
        return fn();
      });
    } catch (error) {
      store.rolledBack();
      throw error;
    }
  }

  /**
   * Durable mode: holds the writes of this event, a quiet partition taking `requests` from a
   * link, so their `dispatch` leaves before they are committed (held-writes.ts); they join
   * writes already held. True when they are held. They run in one transaction when the caller's
   * timer fires (HOLD_WRITES_MS) or at the start of an event that does not join them (writeHeld),
   * so `accepted` frames, sent after them, wait for their commit as before; a server's answer
   * that comes first is sent before them (queue-do.ts). When the row cache cannot carry more
   * held rows, what is held is written first, and this event's writes are held afresh.
   */
  holdWrites(requests: readonly RequestFrame[]): boolean {
    const store = this.store;
    if (!(store instanceof SqlRequestStore) || store.queueName() === undefined) return false;
    const chars = requests.reduce((n, r) => n + storedChars(r), 0);
    if (store.holdWrites(requests.length, chars)) return true;
    if (!store.holding) return false;
    this.writeHeld();
    return store.holdWrites(requests.length, chars);
  }

  /** Whether this event's writes are held (holdWrites). */
  get holding(): boolean {
    return this.store instanceof SqlRequestStore && this.store.holding;
  }

  /**
   * Runs the held writes, if any, in one transaction. Every event of the object starts here,
   * except those that join the writes held (held-writes.ts): a link's requests and acks
   * (link-messages.ts), and a server's message whose answers were all sent early (queue-do.ts).
   */
  writeHeld(): void {
    const store = this.store;
    if (!(store instanceof SqlRequestStore) || !store.holding) return;
    try {
      this.ctx.storage.transactionSync(() => {
        store.releaseHeld();
        this.early.write(store, (rid) => this.delivery.claimAck(rid));
      });
    } catch (error) {
      this.heldWritesLost(error);
    }
  }

  /**
   * Held writes could not be written: requests were dispatched (and answered `accepted` on
   * their links, held there) that are not stored. Every link is closed (going away), so each
   * client re-sends what it has not seen finish; a server's answer to a lost request is refused.
   */
  private heldWritesLost(error: unknown): void {
    console.error(JSON.stringify({ evt: "queue.held_writes_failed", error: String(error) }));
    this.store.rolledBack();
    this.ready = undefined;
    this.servers.invalidate(); // their in-flight counts come back from what SQLite holds
    for (const link of this.links.closeAll(CLOSE_CODE.goingAway, "requests were not stored")) {
      this.delivery.release(link.attachment.identity, link.attachment.connId);
    }
  }

  /** The queue's current maxAttempts (settings are read per object). */
  private readonly maxAttempts = (): number => this.settings.limits.maxAttempts;

  /** The index of queued requests, rebuilt when it is missing or stale (needsRebuild). */
  readyIndex(): ReadyIndex {
    const lifecycle = this.lifecycle;
    if (
      this.ready === undefined ||
      needsRebuild(this.ready, lifecycle.requeued, lifecycle.endedWhileQueued)
    ) {
      const max = this.settings.limits.maxAttempts;
      this.ready = ReadyIndex.from(this.store.queued(), (attempt) => runsAlone(attempt, max));
      lifecycle.requeued = false;
      lifecycle.endedWhileQueued = 0;
    }
    return this.ready;
  }

  parts() {
    const { store, servers, lifecycle, outbox } = this;
    return { store, servers, lifecycle, outbox };
  }

  /** What dispatching (to sockets or waiting takes) needs at `now`. */
  dispatchDeps(now: number) {
    const limits = this.settings.limits;
    const queue = this.store.queueName() ?? "";
    return { ...this.parts(), ready: this.readyIndex(), limits, queue, now };
  }

  expiryDeps(now: number) {
    const { servers, lifecycle } = this;
    return { servers, lifecycle, devMode: this.settings.devMode, now };
  }

  private requestLifecycle(): RequestLifecycle {
    return new RequestLifecycle(this.store, this.servers, this.outbox, this.settings.limits);
  }

  private outcomeDelivery(): OutcomeDelivery {
    return new OutcomeDelivery(
      this.store,
      (name) => this.env.EXCHANGE.getByName(name),
      this.settings.exchangeShards,
      this.links,
      (capped) => {
        const now = Date.now();
        for (const { identity, message } of capped) this.capped.mark(identity, message, now);
      },
    );
  }
}

/** About how many characters a request's body and headers take stored (for the row cache). */
function storedChars(r: RequestFrame): number {
  return r.body.data.length + 32 + (r.headers === undefined ? 0 : JSON.stringify(r.headers).length);
}

/** Whether a queue's SQLite holds requests not yet ended, or outcomes not yet delivered. */
function holdsUnfinished(sql: SqlStorage): boolean {
  const q = `SELECT EXISTS (SELECT 1 FROM requests WHERE state IN ('queued', 'leased'))
    OR EXISTS (SELECT 1 FROM requests WHERE outcome IS NOT NULL) AS n`;
  return Number(sql.exec(q).one().n) !== 0;
}
