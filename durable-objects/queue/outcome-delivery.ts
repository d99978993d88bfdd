/**
 * Hands finished requests' outcomes to their clients: straight down the client's queue link when
 * the request came in on one and the link is open (link-registry.ts; the outcome stays stored
 * until the client acks it there, or goes through the exchange after all if the link closes
 * first), otherwise to the exchange objects (one `deliver` RPC per exchange shard and flush). An outcome stays in SQLite until its call succeeds; a failed call is retried
 * by the alarm after DELIVERY_RETRY_MS. A success is written later, with the queue's next
 * transaction (`recordDelivered`), not in a commit of its own: if the object dies first, the
 * outcome is delivered again, and the client's SDK ignores the copy. Used by queue-state.ts and queue-settle.ts.
 */
import { encodeFrame } from "../../protocol/index.js";
import {
  type DeliverAnswer,
  type ExchangeRpc,
  exchangeName,
  type Outcome,
} from "../shared/contracts.js";
import { DELIVERY_RETRY_MS } from "./deadlines.js";
import { DELIVER_CALL_CHARS, deliverChunks } from "./deliver-chunks.js";
import type { LinkRegistry } from "./link-registry.js";
import type { DueOutcome, RequestStore, StoredRequest } from "./store-contract.js";

/** Stored outcomes one flush looks at, at most, besides those already in calls. */
const FLUSH_LIMIT = 500;

/**
 * Characters of stored outcomes one flush loads, at most (after the first): 500 outcomes of a
 * megabyte each would be far beyond a Durable Object's 128 MB. One load is about one `deliver`
 * call (deliver-chunks.ts); the next load follows once it is handed over.
 */
const FLUSH_CHARS = DELIVER_CALL_CHARS;

/** How long an outcome sent on a still-open link waits for its ack before it is looked at again. */
export const LINK_ACK_WAIT_MS = 30_000;

export class OutcomeDelivery {
  /** Outcomes inside a `deliver` call now, so concurrent flushes do not send them twice. */
  private readonly sending = new Set<number>();
  /** Delivered outcomes whose mark is not written yet (they stay in `sending` until then). */
  private confirmed = new Set<number>();
  /** Outcomes sent on a queue link and not acked yet: rid → the link's identity and connId. */
  private readonly onLinks = new Map<
    number,
    { identity: string; connId: string; key: string; chars: number }
  >();
  /** The same outcomes by their client's identity and request id (linkKey), for acks. */
  private readonly linkRids = new Map<string, number>();
  /**
   * The store's outcome writes at the last query, and whether something else may have made an
   * outcome due since (a link closed, or the last query hit its limit): with neither, `start`
   * has nothing to find and skips its query. Timed retries come through the alarm (`flush`).
   */
  private seenWrites: number | undefined;
  private mayHaveDue = true;
  /**
   * Outcomes whose `deliver` call failed → when they may be tried again. Fresh outcomes are due
   * a DELIVERY_RETRY_MS early (their stored time is the safety retry), so a failed one's new time
   * would read as due at the next event: without this, every event would call a failing exchange.
   */
  private readonly failedUntil = new Map<number, number>();

  constructor(
    private readonly store: RequestStore,
    private readonly exchange: (name: string) => ExchangeRpc,
    private readonly shards: number,
    private readonly links: LinkRegistry,
    /** Told which recipients an exchange says are at their outbox cap (capped-identities.ts). */
    private readonly onCapped: (capped: DeliverAnswer["capped"]) => void = () => {},
  ) {}

  /** Delivers every outcome due by `now` (fresh ones included); true when all calls succeeded. */
  async flush(now: number): Promise<boolean> {
    return (await this.start(now, true)) ?? true;
  }

  /**
   * Starts delivering every outcome due by `now`: those for open links are sent before this
   * returns; undefined when nothing else is left, else a promise of the exchange calls (true
   * when all succeeded), so callers keep the event open only when there is something to wait for.
   */
  start(now: number, force = false): Promise<boolean> | undefined {
    const writes = this.store.outcomeWrites;
    if (!force && !this.mayHaveDue && writes === this.seenWrites) return undefined;
    const { loaded, skipped, more } = this.store.dueOutcomes({
      now: now + DELIVERY_RETRY_MS,
      limit: FLUSH_LIMIT + this.sending.size,
      maxChars: FLUSH_CHARS,
      skip: (rid) => this.sending.has(rid) || this.waitsAfterFailure(rid, now),
    });
    this.seenWrites = writes;
    // Outcomes of links that closed are due again now, skipped by this load: a follow-up sends
    // them. After a load that found nothing else to send, `more` would only find the same again.
    const released = this.resendUnacked(skipped, now);
    const again = released || more;
    this.mayHaveDue = again;
    if (loaded.length === 0) return released ? this.flush(Date.now()) : undefined;
    const rest = this.sendOnLinks(loaded);
    if (rest.length === 0) return again ? this.flush(Date.now()) : undefined;
    return this.deliverRest(rest, again);
  }

  /**
   * Hands `rest` to the exchange objects; when `again`, more is due than this flush loaded, and
   * the next load follows once these calls all succeeded (a failure leaves the rest to the alarm).
   */
  private async deliverRest(rest: readonly DueOutcome[], again: boolean): Promise<boolean> {
    const groups = new Map<string, DueOutcome[]>();
    for (const due of rest) {
      this.sending.add(due.rid);
      const name = exchangeName(due.outcome.to, this.shards);
      const group = groups.get(name);
      if (group) group.push(due);
      else groups.set(name, [due]);
    }
    const results = await Promise.all(
      [...groups].map(([name, group]) => this.deliverInChunks(name, group)),
    );
    const allDelivered = results.every(Boolean);
    return allDelivered && again ? this.flush(Date.now()) : allDelivered;
  }

  /** One exchange's outcomes, in calls of a bounded size (deliver-chunks.ts), one after another. */
  private async deliverInChunks(name: string, group: readonly DueOutcome[]): Promise<boolean> {
    let allDelivered = true;
    for (const chunk of deliverChunks(group, (d) => d.outcome)) {
      const rids = chunk.map((d) => d.rid);
      const outcomes = chunk.map((d) => d.outcome);
      if (!(await this.deliverGroup(name, rids, outcomes))) allDelivered = false;
    }
    return allDelivered;
  }

  private async deliverGroup(name: string, rids: number[], outcomes: Outcome[]): Promise<boolean> {
    try {
      const answer: DeliverAnswer | undefined = await this.exchange(name).deliver(outcomes);
      for (const rid of rids) {
        this.confirmed.add(rid);
        this.failedUntil.delete(rid);
      }
      if (answer !== undefined && answer.capped.length > 0) this.onCapped(answer.capped);
      if (this.store.mode === "memory") this.recordDelivered();
      return true;
    } catch (error) {
      console.error(
        JSON.stringify({ evt: "queue.deliver_failed", exchange: name, error: String(error) }),
      );
      const retryAt = Date.now() + DELIVERY_RETRY_MS;
      this.store.retryDelivery(rids, retryAt);
      for (const rid of rids) {
        this.sending.delete(rid);
        this.failedUntil.set(rid, retryAt);
      }
      return false;
    }
  }

  /** Whether `rid`'s last `deliver` call failed and its retry time has not come yet. */
  private waitsAfterFailure(rid: number, now: number): boolean {
    const until = this.failedUntil.get(rid);
    if (until === undefined) return false;
    if (until > now) return true;
    this.failedUntil.delete(rid);
    return false;
  }

  /** Sends outcomes of requests that came on a link down that link; returns the rest. */
  private sendOnLinks(due: DueOutcome[]): DueOutcome[] {
    return this.sendDown(due, (d) =>
      d.viaLink && this.links.get(d.outcome.to) !== undefined
        ? { rid: d.rid, to: d.outcome.to, frame: d.outcome.frame }
        : undefined,
    ).rest;
  }

  /**
   * Sends the outcomes `pick` gives down their clients' links, one message per client (the
   * others, and those whose link cannot take them, are `rest`); each sent one then awaits its
   * ack on that link.
   */
  private sendDown<T>(
    items: readonly T[],
    pick: (item: T) => { rid: number; to: string; frame: Outcome["frame"] } | undefined,
  ): { sent: T[]; rest: T[] } {
    const byClient = new Map<string, { item: T; rid: number; key: string; text: string }[]>();
    const sent: T[] = [];
    const rest: T[] = [];
    for (const item of items) {
      const picked = pick(item);
      if (picked === undefined) {
        rest.push(item);
        continue;
      }
      const key = linkKey(picked.to, picked.frame.id ?? "");
      const entry = { item, rid: picked.rid, key, text: encodeFrame(picked.frame) };
      const list = byClient.get(picked.to);
      if (list) list.push(entry);
      else byClient.set(picked.to, [entry]);
    }
    for (const [identity, list] of byClient) {
      const link = this.links.send(
        identity,
        list.map((e) => e.text),
      );
      for (const { item, rid, key, text } of list) {
        if (link === undefined) {
          rest.push(item);
          continue;
        }
        this.sending.add(rid);
        this.failedUntil.delete(rid);
        const connId = link.attachment.connId;
        this.onLinks.set(rid, { identity, connId, key, chars: text.length });
        this.linkRids.set(key, rid);
        sent.push(item);
      }
    }
    return { sent, rest };
  }

  /**
   * Outcomes sent on a link and still not acked at their retry time. While that link is still
   * its client's open link they wait for the ack (a WebSocket loses nothing; a client that stopped
   * reading would only get more copies, and the relay would hold them all): their next look moves
   * LINK_ACK_WAIT_MS on, unless the client sends the request again (askedAgain). Those whose link
   * is gone are sent again (down a newer link, or through the exchange); the SDK ignores the copy
   * of an outcome it already has. True when there are such.
   */
  private resendUnacked(
    found: readonly { rid: number; deliverAt: number }[],
    now: number,
  ): boolean {
    const waiting: number[] = [];
    const again: number[] = [];
    for (const d of found) {
      const sent = this.onLinks.get(d.rid);
      if (sent === undefined || d.deliverAt > now) continue;
      const link = this.links.get(sent.identity);
      if (link?.attachment.connId === sent.connId) waiting.push(d.rid);
      else again.push(d.rid);
    }
    if (waiting.length > 0) this.store.retryDelivery(waiting, now + LINK_ACK_WAIT_MS);
    if (again.length === 0) return false;
    for (const rid of again) this.forget(rid);
    this.store.retryDelivery(again, now + DELIVERY_RETRY_MS);
    return true;
  }

  /** Drops the record of an outcome sent on a link (acked, overdue or released). */
  private forget(rid: number): void {
    const sent = this.onLinks.get(rid);
    if (sent === undefined) return;
    this.onLinks.delete(rid);
    if (this.linkRids.get(sent.key) === rid) this.linkRids.delete(sent.key);
    this.sending.delete(rid);
    const link = this.links.get(sent.identity);
    if (link?.attachment.connId === sent.connId) {
      link.unacked = Math.max(0, link.unacked - 1);
      link.unackedChars = Math.max(0, link.unackedChars - sent.chars);
    }
  }

  /**
   * Sends outcomes down their clients' links now, before they are written (durable mode,
   * early-finishes.ts); returns the ones that went.
   */
  sendEarly<T extends { row: StoredRequest; frame: Outcome["frame"] }>(items: readonly T[]): T[] {
    return this.sendDown(items, ({ row, frame }) =>
      row.viaLink && !this.sending.has(row.rid) ? { rid: row.rid, to: row.from, frame } : undefined,
    ).sent;
  }

  /**
   * Client `identity` acked the outcomes of requests `ids` on link `connId`: they are delivered.
   * Only outcomes sent down that link count, and those are all in memory: no lookup in the store.
   */
  acked(identity: string, ids: readonly string[], connId: string): void {
    if (this.onLinks.size === 0) return;
    for (const id of ids) {
      const rid = this.linkRids.get(linkKey(identity, id));
      if (rid === undefined || this.onLinks.get(rid)?.connId !== connId) continue;
      this.forget(rid);
      // Back in `sending` until the mark is written, so no flush sends it again meanwhile.
      this.sending.add(rid);
      this.confirmed.add(rid);
    }
    if (this.store.mode === "memory") this.recordDelivered();
  }

  /**
   * Client `identity` sent requests `ids` on link `connId` again: an outcome of one of them sent
   * down that link and not acked is due again, since the client asks for it.
   */
  askedAgain(identity: string, ids: readonly string[], connId: string, now: number): void {
    if (this.onLinks.size === 0) return;
    const again: number[] = [];
    for (const id of ids) {
      const rid = this.linkRids.get(linkKey(identity, id));
      if (rid === undefined || this.onLinks.get(rid)?.connId !== connId) continue;
      this.forget(rid);
      again.push(rid);
    }
    if (again.length === 0) return;
    this.store.retryDelivery(again, now);
    this.mayHaveDue = true;
  }

  /**
   * `identity`'s link `connId` closed (or was replaced): the outcomes it had not acked are due
   * again (the next flush sends them through the exchange, or down a newer link), even those
   * whose wait for an ack had moved their retry on. Those sent on it before a wake are not in
   * `onLinks`: the store finds them by identity.
   */
  release(identity: string, connId: string): void {
    const now = Date.now();
    for (const [rid, sent] of this.onLinks) if (sent.connId === connId) this.forget(rid);
    this.store.linkOutcomesDue(identity, now);
    this.mayHaveDue = true;
  }

  /**
   * Takes the delivered mark of outcome `rid` when one waits (its finish is about to be written
   * as delivered, early-finishes.ts): true when it did.
   */
  claimAck(rid: number): boolean {
    if (!this.confirmed.delete(rid)) return false;
    this.sending.delete(rid);
    return true;
  }

  /** Whether delivered marks wait to be written. */
  hasRecords(): boolean {
    return this.confirmed.size > 0;
  }

  /** Writes the delivered marks gathered since the last call; inside the caller's transaction. */
  recordDelivered(): void {
    if (this.confirmed.size === 0) return;
    const rids = [...this.confirmed];
    this.store.delivered(rids);
    for (const rid of rids) this.sending.delete(rid);
    this.confirmed = new Set();
  }
}

/** An outcome's key among those sent on links: its client's identity and its request id. */
function linkKey(identity: string, id: string): string {
  return `${identity}\n${id}`;
}
