/**
 * The client identities this queue heard are at their exchange's cap on unacked outcomes
 * (outbox-limits.ts): the exchange says so when the queue delivers to it (DeliverAnswer). New
 * requests of such an identity on a queue link are refused with `too_many_in_flight`, as the
 * exchange refuses them on its own socket, so a client that never acks cannot grow the exchange's
 * outbox through links either. Re-sends of requests the queue holds are still answered.
 *
 * A mark refuses for CAP_RECHECK_MS after the exchange last said "at cap". After that the queue
 * admits the identity's requests again and asks the exchange (capStatus, one check at a time):
 * "at cap" refuses for another CAP_RECHECK_MS, "under" lifts the mark. So a client that acked
 * its way under the cap is refused at most that long after the last answer, and one that never
 * acks gets only the requests sent while a check is in flight past the cap. Pure apart from the
 * check it is given; in memory only (a restart forgets the marks; the next delivery marks the
 * identity again). Used by queue-state.ts and link-messages.ts.
 */

/** How long the exchange's "at cap" refuses an identity's link requests before it is asked again. */
export const CAP_RECHECK_MS = 250;

/** A check that has not answered in this long counts as failed (another may start). */
export const CAP_CHECK_TIMEOUT_MS = 10_000;

/** Most identities marked at once; past it the least recently marked goes (a bound, not a limit). */
export const MAX_CAPPED_IDENTITIES = 1_000;

/** Asks the exchange: the refusal message while `identity` is at its cap, else undefined. */
export type CapCheck = (identity: string) => Promise<string | undefined>;

interface Mark {
  message: string;
  /** When the exchange last said the identity is at its cap. */
  heard: number;
  /** When the check in flight started, if one is. */
  checkStarted: number | undefined;
}

export class CappedIdentities {
  private readonly marks = new Map<string, Mark>();

  constructor(
    private readonly check: CapCheck,
    /** Keeps a check running after the event that started it (ctx.waitUntil). */
    private readonly keepAlive: (work: Promise<unknown>) => void,
  ) {}

  get size(): number {
    return this.marks.size;
  }

  /** The exchange said `identity` is at its cap, with this refusal `message`. */
  mark(identity: string, message: string, now: number): void {
    const mark = this.marks.get(identity);
    this.marks.delete(identity);
    if (mark === undefined && this.marks.size >= MAX_CAPPED_IDENTITIES) {
      const oldest = this.marks.keys().next().value;
      if (oldest !== undefined) this.marks.delete(oldest);
    }
    this.marks.set(identity, {
      message,
      heard: Math.max(now, mark?.heard ?? now),
      checkStarted: mark?.checkStarted,
    });
  }

  /**
   * Why a new request of `identity` is refused now, or undefined when it is admitted: refused
   * within CAP_RECHECK_MS of the exchange's last "at cap"; past that, admitted while the
   * exchange is asked again.
   */
  refusal(identity: string, now: number): string | undefined {
    const mark = this.marks.get(identity);
    if (mark === undefined) return undefined;
    if (now - mark.heard < CAP_RECHECK_MS) return mark.message;
    const started = mark.checkStarted;
    if (started === undefined || now - started >= CAP_CHECK_TIMEOUT_MS) this.recheck(identity, now);
    return undefined;
  }

  private recheck(identity: string, now: number): void {
    const mark = this.marks.get(identity);
    if (mark === undefined) return;
    mark.checkStarted = now;
    const heardBefore = mark.heard;
    const current = () => {
      const latest = this.marks.get(identity);
      return latest?.checkStarted === now ? latest : undefined;
    };
    const done = this.check(identity).then(
      (message) => {
        const latest = current();
        if (latest === undefined) return;
        latest.checkStarted = undefined;
        // A delivery's "at cap" that came while the check ran is newer: it stands.
        if (message !== undefined) this.mark(identity, message, Date.now());
        else if (latest.heard === heardBefore) this.marks.delete(identity);
      },
      (error: unknown) => {
        // The mark stays, admitting; a request asks again once this check times out.
        console.error(JSON.stringify({ evt: "queue.cap_check_failed", error: String(error) }));
      },
    );
    this.keepAlive(done);
  }
}
