/**
 * The client identities this queue heard are at their exchange's cap on unacked outcomes
 * (outbox-limits.ts): the exchange says so when the queue delivers to it (DeliverAnswer). New
 * requests of such an identity on a queue link are refused with `too_many_in_flight`, as the
 * exchange refuses them on its own socket, so a client that never acks cannot grow the exchange's
 * outbox through links either. Re-sends of requests the queue holds are still answered.
 *
 * The mark lasts until the exchange says the identity is under its cap: asked again (capStatus)
 * when a refused request comes more than CAP_RECHECK_MS after the last answer. The request that
 * triggers the check is refused; a retry after it finds the answer. Pure
 * apart from the check it is given; in memory only (a restart forgets the marks, and the next
 * delivery marks the identity again). Used by queue-state.ts and link-messages.ts.
 */

/** How long an exchange's answer on an identity's cap stands before it is asked again. */
export const CAP_RECHECK_MS = 1_000;

/** Most identities marked at once; past it the oldest mark goes (a bound, not a limit). */
export const MAX_CAPPED_IDENTITIES = 1_000;

/** Asks the exchange: the refusal message while `identity` is at its cap, else undefined. */
export type CapCheck = (identity: string) => Promise<string | undefined>;

interface Mark {
  message: string;
  /** When the exchange last said the identity is at its cap. */
  heard: number;
  checking: boolean;
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
    if (mark !== undefined) {
      mark.message = message;
      mark.heard = now;
      return;
    }
    if (this.marks.size >= MAX_CAPPED_IDENTITIES) {
      const oldest = this.marks.keys().next().value;
      if (oldest !== undefined) this.marks.delete(oldest);
    }
    this.marks.set(identity, { message, heard: now, checking: false });
  }

  /**
   * Why a new request of `identity` is refused now, or undefined when it is not marked. A mark
   * older than CAP_RECHECK_MS starts a check (one at a time per identity) and still refuses.
   */
  refusal(identity: string, now: number): string | undefined {
    const mark = this.marks.get(identity);
    if (mark === undefined) return undefined;
    if (!mark.checking && now - mark.heard >= CAP_RECHECK_MS) this.recheck(identity, mark);
    return mark.message;
  }

  private recheck(identity: string, mark: Mark): void {
    mark.checking = true;
    const done = this.check(identity).then(
      (message) => {
        mark.checking = false;
        if (this.marks.get(identity) !== mark) return;
        if (message === undefined) this.marks.delete(identity);
        else this.mark(identity, message, Date.now());
      },
      (error: unknown) => {
        // The mark stands; a refused request asks again after CAP_RECHECK_MS.
        mark.checking = false;
        mark.heard = Date.now();
        console.error(JSON.stringify({ evt: "queue.cap_check_failed", error: String(error) }));
      },
    );
    this.keepAlive(done);
  }
}
