/**
 * The ExchangeDO's `http_requests` table: requests sent by HTTP clients (relay-chosen ids), keyed
 * by (identity, id), and their outcome once the queue delivers it. An HTTP client has no socket to
 * send an outcome to, so the outcome is kept here (not in the WebSocket outbox) and read by
 * `GET /v1/requests/{id}` or the waiting `POST .../requests`, and, for a request posted with a
 * poller tag, by `GET /v1/outcomes` in the order of the numbers claims give them (outcome-seq.ts).
 *
 * An outcome counts toward its identity's cap until an answer first reads it (http-unread.ts,
 * which also deletes rows, keeping the counts). A row lives until its deadline plus
 * RESUME_WINDOW_MS, or once read, until READ_KEEP_MS past that read if that is sooner (so a lost
 * answer may be asked for again); it is read as gone from then, and the alarm purges it. Used by
 * http-clients.ts.
 */
import { EdgeMQError, ERROR_CODE, type ErrorFrame, encodeFrame } from "../../protocol/index.js";
import type { Outcome } from "../shared/contracts.js";
import type { HttpAwaitAnswer, HttpPollAnswer } from "../shared/http-contracts.js";
import { readOutcome } from "./http-outcome-row.js";
import { HttpUnread } from "./http-unread.js";
import { RESUME_WINDOW_MS } from "./outbox.js";
import { READ_KEEP_MS } from "./outbox-limits.js";
import { OutcomeSeq } from "./outcome-seq.js";
import { POLL_BUDGET, type PolledRow, takePolled } from "./polled-outcomes.js";

/** Outcomes a claim kept, apart from the others, and the polls to wake for them. */
export interface Claimed {
  claimed: Outcome[];
  rest: Outcome[];
  /** (identity, poller) of each outcome that got a number: a poll of it may be waiting. */
  polled: { identity: string; poller: string }[];
}

export class HttpRequests {
  private readonly storage: DurableObjectStorage;
  /** Unread outcomes, what reads them, and every delete of rows (http-unread.ts). */
  readonly unread: HttpUnread;

  constructor(storage: DurableObjectStorage) {
    this.storage = storage;
    this.unread = new HttpUnread(storage);
  }

  /**
   * Records a request before it is enqueued, so an outcome that comes back fast is kept; with
   * `poller`, its outcome also goes to that poller's polls.
   */
  record(identity: string, id: string, queue: string, deadline: number, poller?: string): number {
    const expires = deadline + RESUME_WINDOW_MS;
    // A row of this id past its expiry (read as gone, not purged yet) goes first, off the count.
    this.unread.delete(identity, id);
    this.storage.sql.exec(
      `INSERT INTO http_requests
         (identity, id, queue, deadline, expires, outcome, poller, seq, size, read_at)
       VALUES (?, ?, ?, ?, ?, NULL, ?, NULL, 0, NULL)`,
      identity,
      id,
      queue,
      deadline,
      expires,
      poller ?? null,
    );
    return expires;
  }

  /**
   * Sets the deadline the queue gave the request. An outcome read already (a poll may read it
   * while the queue answers) stays kept no longer than READ_KEEP_MS past that read.
   */
  accepted(identity: string, id: string, deadline: number): void {
    const expires = deadline + RESUME_WINDOW_MS;
    this.storage.sql.exec(
      `UPDATE http_requests SET deadline = ?,
         expires = CASE WHEN read_at IS NULL THEN ? ELSE MIN(?, read_at + ?) END
       WHERE identity = ? AND id = ?`,
      deadline,
      expires,
      expires,
      READ_KEEP_MS,
      identity,
      id,
    );
  }

  forget(identity: string, id: string): void {
    this.unread.delete(identity, id);
  }

  /**
   * Keeps the outcomes that belong to HTTP requests (the first outcome of a request wins) and
   * returns them apart from the others, which go to the WebSocket outbox as before. An outcome
   * its queue marks as a WebSocket request's (`viaHttp: false`) is never claimed, whatever record
   * this table holds for its id (one whose queue row is gone, or one being recorded now). The
   * first outcome of a request with a poller gets the next outcome number, in the same
   * transaction.
   */
  claim(outcomes: readonly Outcome[]): Claimed {
    const kept: Claimed = { claimed: [], rest: [], polled: [] };
    // The common case (no HTTP client waits here): a read, no write, so no commit and no output
    // gate on the outcomes' way to their sockets.
    const none =
      this.storage.sql.exec("SELECT 1 FROM http_requests LIMIT 1").toArray().length === 0;
    if (none) return { ...kept, rest: [...outcomes] };
    const now = Date.now();
    this.unread.transaction(() => {
      const seq = new OutcomeSeq(this.storage.sql, now);
      for (const outcome of outcomes) {
        const claimed = this.#claimOne(outcome, seq, now);
        if (claimed === undefined) {
          kept.rest.push(outcome);
          continue;
        }
        kept.claimed.push(outcome);
        if (claimed.poller !== undefined) {
          kept.polled.push({ identity: outcome.to, poller: claimed.poller });
        }
      }
      seq.save();
    });
    return kept;
  }

  /**
   * Stores `outcome` on its request's row unless the row has one (the first outcome wins; it is
   * unread, and counts); undefined when no row of an HTTP request takes it. The poller is named
   * when the outcome got a number for it.
   */
  #claimOne(outcome: Outcome, seq: OutcomeSeq, now: number): { poller?: string } | undefined {
    const { to, frame } = outcome;
    if (frame.id === undefined || outcome.viaHttp === false) return undefined;
    const row = this.storage.sql
      .exec(
        `SELECT poller, outcome IS NULL AS open FROM http_requests
         WHERE identity = ? AND id = ? AND expires > ?`,
        to,
        frame.id,
        now,
      )
      .toArray()[0];
    if (row === undefined) return undefined;
    if (row.open !== 1) return {};
    const poller = typeof row.poller === "string" ? row.poller : undefined;
    const text = encodeFrame(frame);
    this.storage.sql.exec(
      "UPDATE http_requests SET outcome = ?, seq = ?, size = ? WHERE identity = ? AND id = ?",
      text,
      poller === undefined ? null : seq.peek(),
      text.length,
      to,
      frame.id,
    );
    this.unread.stored(to, text.length);
    if (poller === undefined) return {};
    seq.take();
    return { poller };
  }

  /**
   * The outcomes of `identity`'s requests posted with `poller` numbered above `after`, as one
   * answer of `GET /v1/outcomes` (polled-outcomes.ts); expired rows are not read.
   */
  polled(identity: string, poller: string, after: number, now: number): HttpPollAnswer {
    const cursor = this.storage.sql.exec(
      `SELECT seq, outcome FROM http_requests
       WHERE identity = ? AND poller = ? AND seq > ? AND expires > ?
       ORDER BY seq LIMIT ?`,
      identity,
      poller,
      after,
      now,
      POLL_BUDGET.frames,
    );
    return takePolled(polledRows(cursor), after);
  }

  /** Whether a poll's cursor is past every outcome number given (outcome-seq.ts isAhead). */
  cursorAhead(after: number, now: number): boolean {
    return new OutcomeSeq(this.storage.sql, now).isAhead(after);
  }

  /**
   * Ends `identity`'s requests posted with `poller` that still have no outcome OVERDUE_MS past
   * their deadline (the queue ends every request at its deadline, so the outcome was lost, as a
   * memory queue's restart loses its requests, or is very late) with a `timeout` error, numbered as
   * an outcome, so a poll reports it as `GET /v1/requests/{id}` would with its 504. Returns when
   * the next of them becomes overdue, if one is pending.
   */
  endOverdue(identity: string, poller: string, now: number, overdueMs: number): number | undefined {
    const pending = this.storage.sql
      .exec(
        `SELECT id, deadline FROM http_requests
         WHERE identity = ? AND poller = ? AND outcome IS NULL AND expires > ?
         ORDER BY deadline`,
        identity,
        poller,
        now,
      )
      .toArray();
    const overdue = pending.filter((row) => Number(row.deadline) + overdueMs <= now);
    if (overdue.length > 0) {
      this.unread.transaction(() => {
        const seq = new OutcomeSeq(this.storage.sql, now);
        for (const { id } of overdue) {
          if (typeof id !== "string") continue;
          const text = encodeFrame(overdueError(id));
          const { rowsWritten } = this.storage.sql.exec(
            `UPDATE http_requests SET outcome = ?, seq = ?, size = ?
             WHERE identity = ? AND id = ? AND outcome IS NULL`,
            text,
            seq.peek(),
            text.length,
            identity,
            id,
          );
          if (rowsWritten === 0) continue;
          this.unread.stored(identity, text.length);
          seq.take();
        }
        seq.save();
      });
    }
    const next = pending[overdue.length];
    return next === undefined ? undefined : Number(next.deadline) + overdueMs;
  }

  /** Where the request stands for `identity`: done (with its outcome), pending, or unknown. */
  lookup(identity: string, id: string, now: number): HttpAwaitAnswer {
    const row = this.storage.sql
      .exec(
        "SELECT deadline, expires, outcome FROM http_requests WHERE identity = ? AND id = ?",
        identity,
        id,
      )
      .toArray()[0];
    if (row === undefined || typeof row.expires !== "number" || row.expires <= now) {
      return { state: "unknown" };
    }
    const deadline = typeof row.deadline === "number" ? row.deadline : now;
    if (typeof row.outcome === "string") {
      const frame = readOutcome(row.outcome);
      if (frame !== undefined) return { state: "done", frame, deadline };
    }
    return { state: "pending", deadline };
  }

  /** The queue request `id` of `identity` was posted to, while its row is kept. */
  queueOf(identity: string, id: string): string | undefined {
    const row = this.storage.sql
      .exec("SELECT queue FROM http_requests WHERE identity = ? AND id = ?", identity, id)
      .toArray()[0];
    return typeof row?.queue === "string" ? row.queue : undefined;
  }

  /** Deletes expired rows; returns when the next one expires, if any row is left. */
  purge(now: number): { purged: number; next: number | undefined } {
    const purged = this.unread.purge(now);
    const row = this.storage.sql.exec("SELECT MIN(expires) AS next FROM http_requests").one();
    return { purged, next: typeof row.next === "number" ? row.next : undefined };
  }
}

/** The rows of a poll's query, read one at a time. */
function* polledRows(cursor: Iterable<Record<string, SqlStorageValue>>): Generator<PolledRow> {
  for (const row of cursor) {
    if (typeof row.seq === "number" && typeof row.outcome === "string") {
      yield { seq: row.seq, frame: row.outcome };
    }
  }
}

/** The outcome a polled request gets when none came by its deadline and the grace after it. */
function overdueError(id: string): ErrorFrame {
  const message =
    "no outcome by the deadline (the request was lost, as a memory queue's restart loses its requests, or its outcome is very late)";
  return { ...new EdgeMQError(ERROR_CODE.timeout, message).toWire(), type: "error", id };
}
