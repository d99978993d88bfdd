/**
 * Group commit for requests sent on queue links. One SQLite commit per link message would cap a
 * durable partition at about one message per commit interval whatever the number of clients
 * (measured: 280 req/s for 50 clients), and one dispatch pass per message sends servers many
 * small messages. So while the partition is busy (requests queued or held by servers), link
 * messages wait for one zero-delay timer and are stored together: one transaction, one commit,
 * then each link gets its answers and dispatch runs once. A quiet partition stores a message at
 * once, so a serial client pays no timer: its writes are held, and its next requests join them
 * (held-writes.ts). (A clock-based load signal failed: with commits blocking about a
 * millisecond, messages never looked close together.) The exchange route gets the same effect
 * from its one-call-in-flight batcher (exchange/enqueue-batcher.ts).
 * Used by link-messages.ts.
 */
import { ERROR_CODE, encodeFrame, type RequestFrame } from "../../protocol/index.js";
import { errorFrame } from "../exchange/client-message.js";
import { answersFor } from "../exchange/enqueue-answers.js";
import { enqueueDecoded } from "./enqueue.js";
import { HOLD_WRITES_MS } from "./held-writes.js";
import type { Link } from "./link-registry.js";
import type { QueueSettler } from "./queue-settle.js";
import type { QueueState } from "./queue-state.js";

export interface LinkEnqueue {
  link: Link;
  from: string;
  queue: string;
  requests: RequestFrame[];
  /** Cancels from the same message, carried out after its requests are stored. */
  after: () => void;
}

export class LinkEnqueues {
  private pending: LinkEnqueue[] = [];
  private scheduled = false;
  /** The timer that writes what quiet requests held (held-writes.ts), while one is set. */
  private releaseTimer: ReturnType<typeof setTimeout> | undefined;

  /** `holdMs`: longest the writes of a quiet partition's requests are held (held-writes.ts). */
  constructor(
    private readonly rt: QueueSettler,
    private readonly holdMs = HOLD_WRITES_MS,
  ) {}

  /** Whether link messages wait for the next group commit (their requests are not stored yet). */
  get waiting(): boolean {
    return this.scheduled;
  }

  /**
   * Stores `item`'s requests at once when the partition is quiet (nothing queued, no server
   * holding a request, no batch waiting), else with the next group commit.
   */
  add(item: LinkEnqueue): "stored" | "deferred" {
    const state = this.rt.state;
    if (!this.scheduled && state.readyIndex().size === 0 && !state.servers.anyBusy()) {
      // Durable: the writes wait, so the dispatch goes first; the quiet requests that follow
      // join them, for one commit, until the timer writes them (held-writes.ts).
      if (state.holdWrites(item.requests)) this.releaseLater();
      this.store([item], Date.now());
      return "stored";
    }
    this.pending.push(item);
    if (!this.scheduled) {
      this.scheduled = true;
      setTimeout(() => void this.flush(), 0);
    }
    return "deferred";
  }

  /**
   * Writes what is held within `holdMs`. A timer left from writes that an event wrote sooner
   * stays: the writes held since then are written earlier, never later.
   */
  private releaseLater(): void {
    this.releaseTimer ??= setTimeout(() => {
      this.releaseTimer = undefined;
      this.rt.releaseHeld();
    }, this.holdMs);
  }

  private async flush(): Promise<void> {
    this.rt.state.writeHeld();
    const batch = this.pending;
    this.pending = [];
    this.scheduled = false;
    const now = Date.now();
    this.store(batch, now);
    try {
      await this.rt.settle(now);
    } catch (error) {
      console.error(JSON.stringify({ evt: "queue.link_settle_failed", error: String(error) }));
    }
  }

  /** One transaction for every item; each request gets `accepted` or a typed error. */
  private store(batch: readonly LinkEnqueue[], now: number): void {
    const state = this.rt.state;
    try {
      const outcomes = state.transaction(() => batch.map((item) => enqueueItem(state, item, now)));
      batch.forEach((item, i) => {
        for (const frame of answersFor(item.requests, outcomes[i] ?? [])) {
          // `accepted` waits a moment for the outcome, to share its message (link-registry.ts).
          if (frame.type === "accepted") state.links.hold(item.link, encodeFrame(frame));
          else state.outbox.push(item.link.ws, frame);
        }
      });
    } catch (error) {
      // Nothing was stored (the transaction rolled back): every request gets a typed error.
      console.error(JSON.stringify({ evt: "queue.link_enqueue_failed", error: String(error) }));
      state.ready = undefined;
      for (const item of batch) {
        for (const r of item.requests) {
          const failure = errorFrame(ERROR_CODE.internal, "internal error", r.id);
          state.outbox.push(item.link.ws, failure);
        }
      }
    }
    for (const item of batch) item.after();
  }
}

function enqueueItem(state: QueueState, item: LinkEnqueue, now: number) {
  // The link decoded and validated these frames (link-messages.ts): no second decode here.
  return enqueueDecoded(item.queue, item.from, item.requests, {
    store: state.store,
    limits: state.settings.limits,
    serverConnected: state.servers.anyConnected() || state.takers.present(now),
    now,
    onStored: (sender, rid) => state.ready?.add(sender, rid),
    viaLink: true,
    viaHttp: false,
    earlyCancels: state.earlyCancels,
    queuePartitions: state.settings.queuePartitions,
  });
}
