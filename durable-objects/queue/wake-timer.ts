/**
 * The `memory` delivery mode's timer: one in-memory setTimeout at the earliest moment the queue
 * must act (a deadline, a lease end, a delivery retry), in place of the storage alarm, whose
 * `setAlarm` is a storage write. A pending timer keeps the Durable Object from hibernating; it is
 * armed only while requests are live or outcomes wait for delivery, which is when the object must
 * stay in memory anyway (hibernation would lose them). Used by queue-alarm.ts.
 */

export class WakeTimer {
  private at: number | undefined;
  private handle: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly onWake: () => Promise<void>) {}

  /** Wakes at `at` (or earlier, if already armed earlier); `undefined` disarms it. */
  arm(at: number | undefined, now: number): void {
    if (at === undefined) {
      this.disarm();
      return;
    }
    if (this.at !== undefined && this.at <= at) return;
    this.disarm();
    this.at = at;
    this.handle = setTimeout(
      () => {
        this.at = undefined;
        this.handle = undefined;
        this.onWake().catch((error: unknown) => {
          console.error(JSON.stringify({ evt: "queue.timer_failed", error: String(error) }));
        });
      },
      Math.max(0, at - now),
    );
  }

  private disarm(): void {
    if (this.handle !== undefined) clearTimeout(this.handle);
    this.at = undefined;
    this.handle = undefined;
  }
}
