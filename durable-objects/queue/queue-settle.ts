/**
 * What a QueueDO does after every change and on every timer. `settle`: return leases orphaned by a
 * restart (once per wake), close servers whose token expired, hand queued requests to waiting HTTP
 * takes and then to socket servers, send the frames, start outcome delivery, set the alarm.
 * `onTimers`: end expired requests, reclaim ran-out leases, purge old ids, retry deliveries.
 * Outcomes handed to the exchange are marked delivered by the next event's transaction, or after
 * RECORD_DELAY_MS on their own when none comes. Used by queue-do.ts and the RPC modules it delegates to (http-server-rpc.ts, server-upgrade.ts).
 */
import { dispatchReady } from "./dispatcher.js";
import type { Handout } from "./http-takers.js";
import { QueueAlarm } from "./queue-alarm.js";
import type { QueueState } from "./queue-state.js";
import { closeExpiredServers } from "./server-expiry.js";

/**
 * How long delivered marks wait for another event's transaction before they are written on their
 * own: an object evicted with marks unwritten (an idle one, after ~10 s) delivers those outcomes
 * again when it wakes. The alarm's transaction may have come and gone while the calls were still
 * under way (a probe: the last 3 of 40 one-megabyte outcomes, delivered twice).
 */
export const RECORD_DELAY_MS = 1_000;

export class QueueSettler {
  private readonly alarm: QueueAlarm;
  /** Whether leases of connections lost in a restart were returned since this wake. */
  private orphansReclaimed = false;
  /**
   * Whether sockets outlived what came before this instance (a hibernation: sockets survive it,
   * and no take's answer was cut), read before any event could accept a new one. False after a
   * restart (a deploy, a crash: every socket dies with it) or an eviction with no socket.
   */
  private readonly socketsSurvived: boolean;
  /** Set while delivered marks wait to be written on their own (recordSoon). */
  private recordTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly ctx: DurableObjectState,
    readonly state: QueueState,
  ) {
    this.alarm = new QueueAlarm(ctx, state, () => this.onTimers());
    this.socketsSurvived = ctx.getWebSockets().length > 0;
  }

  /**
   * After any change: dispatch what can go, send frames, start delivery, set the alarm.
   * `keepEarly`: leave this event's early finishes for a later transaction (early-finishes.ts).
   */
  async settle(now: number, keepEarly = false): Promise<void> {
    const state = this.state;
    let handouts: Handout[] = [];
    // After answers sent early with nothing queued and nothing to record, there is nothing to
    // write: no transaction, so no commit for the next request's commit to queue behind.
    const nothingToDo = keepEarly && this.nothingAfterEarly();
    if (!nothingToDo)
      state.transaction(() => {
        state.delivery.recordDelivered();
        this.reclaimOrphansOnce(now);
        closeExpiredServers(state.expiryDeps(now));
        for (const link of state.links.closeExpired(state.settings.devMode, now)) {
          state.delivery.release(link.attachment.identity, link.attachment.connId);
        }
        // Waiting HTTP takes first: each has been idle since its wait began (http-takers.ts).
        handouts = state.takers.handOut(state.dispatchDeps(now));
        dispatchReady(state.dispatchDeps(now));
      }, keepEarly);
    state.outbox.flush();
    state.takers.resolve(handouts);
    // Outcomes for open links go now; calls to exchanges keep the event open till they end.
    // While writes are held, delivery waits for releaseHeld: what it would find is not written.
    if (!state.holding) this.startDelivery();
    await this.alarm.schedule();
  }

  /**
   * Whether a settle after answers sent early has nothing to do: leases orphaned by a restart
   * already returned, no deliveries to record, nothing queued. Such an event writes nothing, so
   * it leaves held writes held (queue-do.ts).
   */
  nothingAfterEarly(): boolean {
    const state = this.state;
    return this.orphansReclaimed && !state.delivery.hasRecords() && state.readyIndex().size === 0;
  }

  /** Writes what this object's last events held (queue-state.ts holdWrites), then delivers. */
  releaseHeld(): void {
    this.state.writeHeld();
    this.startDelivery();
  }

  private startDelivery(): void {
    const delivering = this.state.delivery.start(Date.now());
    if (delivering !== undefined) this.ctx.waitUntil(this.afterDelivery(delivering));
  }

  /** The storage alarm fired (durable mode's timers, and server token expiries in both modes). */
  async alarmFired(): Promise<void> {
    this.alarm.fired();
    this.state.chooseStore();
    await this.onTimers();
  }

  /** Ends expired requests, reclaims ran-out leases, purges old ids, retries deliveries. */
  private async onTimers(): Promise<void> {
    const state = this.state;
    const now = Date.now();
    state.transaction(() => {
      state.delivery.recordDelivered();
      state.lifecycle.expireDue(now);
      // Before ended leases: after a restart the alarm of a lease that ran out while the relay
      // was down is what wakes the queue, and that lease gets its grace (request-lifecycle.ts).
      this.reclaimOrphansOnce(now);
      state.lifecycle.reclaimEndedLeases(now);
      state.store.purge(now, state.settings.limits.dedupWindowMs);
    });
    await this.settle(now);
    await state.delivery.flush(Date.now());
    await this.alarm.schedule();
  }

  /** Leases of connections lost in a restart: once per wake (reclaimOrphanLeases). */
  private reclaimOrphansOnce(now: number): void {
    if (this.orphansReclaimed) return;
    this.state.lifecycle.reclaimOrphanLeases(now, this.socketsSurvived);
    this.orphansReclaimed = true;
  }

  private async afterDelivery(delivering: Promise<boolean>): Promise<void> {
    await delivering;
    this.recordSoon();
    await this.alarm.schedule();
  }

  /** Writes delivered marks RECORD_DELAY_MS from now, unless an event's transaction does first. */
  private recordSoon(): void {
    if (this.recordTimer !== undefined || !this.state.delivery.hasRecords()) return;
    this.recordTimer = setTimeout(() => {
      this.recordTimer = undefined;
      const state = this.state;
      if (!state.delivery.hasRecords()) return;
      try {
        state.transaction(() => state.delivery.recordDelivered());
      } catch (error) {
        console.error(
          JSON.stringify({ evt: "queue.record_delivered_failed", error: String(error) }),
        );
      }
    }, RECORD_DELAY_MS);
  }
}
