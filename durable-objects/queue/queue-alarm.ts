/**
 * The QueueDO's one timer: the storage alarm set to the earliest of request deadlines, lease ends,
 * delivery retries, purges and server token expiries (durable mode), or, in memory mode, an
 * in-memory WakeTimer for its requests and the storage alarm only for token expiries. Remembers
 * the alarm it set, so an earlier one is never pushed back, but not one long overdue: an alarm
 * that never ran (the platform gives up on an alarm whose handler failed too often, and `wrangler
 * dev` was seen keeping a past alarm time it never ran) is set again, or the queue would end no
 * request at its deadline and reclaim no lease until the object restarts. Used by queue-settle.ts.
 */
import { isOverdue, needsAlarm } from "../shared/alarm.js";
import { earliest } from "../shared/token-expiry.js";
import { nextAlarm } from "./deadlines.js";
import type { QueueState } from "./queue-state.js";
import { nextServerExpiry } from "./server-expiry.js";
import { WakeTimer } from "./wake-timer.js";

export class QueueAlarm {
  /** The alarm time set in storage: undefined until read after a wake, null when none. */
  private alarmAt: number | null | undefined;
  /** Memory mode's timer (the storage alarm is a write; wake-timer.ts). */
  private readonly wakeTimer: WakeTimer;

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly state: QueueState,
    onTimers: () => Promise<void>,
  ) {
    this.wakeTimer = new WakeTimer(onTimers);
  }

  /** The storage alarm fired: none is set any more. */
  fired(): void {
    this.alarmAt = null;
  }

  /** Sets the one alarm to the earliest timer, unless an earlier alarm is already set. */
  async schedule(): Promise<void> {
    const { store, servers, settings } = this.state;
    const now = Date.now();
    // An alarm long overdue never ran: read the timers back and set it again (below).
    if (typeof this.alarmAt === "number" && isOverdue(this.alarmAt, now)) this.alarmAt = undefined;
    const window = settings.limits.dedupWindowMs;
    const serverExpiry = earliest(nextServerExpiry(servers, now), this.state.links.nextExpiry(now));
    const written = store.takeEarliestTime(window);
    let next: number | undefined;
    if (store.mode === "durable" && typeof this.alarmAt === "number" && written !== -Infinity) {
      // The alarm is set, and every moment written since it was computed is known: it can only
      // move earlier, to one of those, so nothing needs reading back.
      next = earliest(written === Number.POSITIVE_INFINITY ? undefined : written, serverExpiry);
    } else if (store.mode === "memory") {
      const timers = store.timers(window);
      // Memory mode: an in-memory timer for its requests, purges left to the next event (so an
      // idle queue may hibernate); the storage alarm only for server token expiries.
      store.purge(now, settings.limits.dedupWindowMs);
      const { nextDeadline, nextLeaseEnd, nextDeliveryRetry } = timers;
      this.wakeTimer.arm(earliest(nextDeadline, nextLeaseEnd, nextDeliveryRetry), now);
      next = serverExpiry;
    } else {
      // Read back from SQLite, with what this object wrote since: writes held now (held-writes.ts)
      // are not in SQLite yet. (After a rollback, `written` is -Infinity and SQLite is the truth.)
      const held = Number.isFinite(written) ? written : undefined;
      next = earliest(nextAlarm(store.timers(window)), held, serverExpiry);
    }
    if (next === undefined) return;
    if (this.alarmAt === undefined) this.alarmAt = await this.ctx.storage.getAlarm();
    if (!needsAlarm(this.alarmAt, next, now)) return;
    this.alarmAt = next;
    await this.ctx.storage.setAlarm(next);
  }
}
