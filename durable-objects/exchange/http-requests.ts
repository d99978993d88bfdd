/**
 * The ExchangeDO's `http_requests` table: requests sent by HTTP clients (relay-chosen ids), keyed
 * by (identity, id), and their outcome once the queue delivers it. An HTTP client has no socket to
 * send an outcome to, so the outcome is kept here (not in the WebSocket outbox) and read by
 * `GET /v1/requests/{id}` or the waiting `POST .../requests`. A row lives until its deadline plus
 * RESUME_WINDOW_MS (so a long-poll may be repeated), then the alarm purges it. Used by exchange-do.ts.
 */
import { encodeFrame } from "../../protocol/index.js";
import type { Outcome } from "../shared/contracts.js";
import type { HttpAwaitAnswer } from "../shared/http-contracts.js";
import { readOutcome } from "./http-outcome-row.js";
import { RESUME_WINDOW_MS } from "./outbox.js";

export class HttpRequests {
  private readonly storage: DurableObjectStorage;

  constructor(storage: DurableObjectStorage) {
    this.storage = storage;
  }

  /** Records a request before it is enqueued, so an outcome that comes back fast is kept. */
  record(identity: string, id: string, queue: string, deadline: number): number {
    const expires = deadline + RESUME_WINDOW_MS;
    this.storage.sql.exec(
      `INSERT OR REPLACE INTO http_requests (identity, id, queue, deadline, expires, outcome)
       VALUES (?, ?, ?, ?, ?, NULL)`,
      identity,
      id,
      queue,
      deadline,
      expires,
    );
    return expires;
  }

  /** Sets the deadline the queue gave the request. */
  accepted(identity: string, id: string, deadline: number): void {
    this.storage.sql.exec(
      "UPDATE http_requests SET deadline = ?, expires = ? WHERE identity = ? AND id = ?",
      deadline,
      deadline + RESUME_WINDOW_MS,
      identity,
      id,
    );
  }

  forget(identity: string, id: string): void {
    this.storage.sql.exec("DELETE FROM http_requests WHERE identity = ? AND id = ?", identity, id);
  }

  /**
   * Keeps the outcomes that belong to HTTP requests (the first outcome of a request wins) and
   * returns them apart from the others, which go to the WebSocket outbox as before. An outcome
   * its queue marks as a WebSocket request's (`viaHttp: false`) is never claimed, whatever record
   * this table holds for its id (one whose queue row is gone, or one being recorded now).
   */
  claim(outcomes: readonly Outcome[]): { claimed: Outcome[]; rest: Outcome[] } {
    const claimed: Outcome[] = [];
    const rest: Outcome[] = [];
    // The common case (no HTTP client waits here): a read, no write, so no commit and no output
    // gate on the outcomes' way to their sockets.
    const none =
      this.storage.sql.exec("SELECT 1 FROM http_requests LIMIT 1").toArray().length === 0;
    if (none) return { claimed, rest: [...outcomes] };
    const now = Date.now();
    this.storage.transactionSync(() => {
      for (const outcome of outcomes) {
        if (outcome.frame.id === undefined || outcome.viaHttp === false) {
          rest.push(outcome);
          continue;
        }
        const written = this.storage.sql.exec(
          `UPDATE http_requests SET outcome = COALESCE(outcome, ?)
           WHERE identity = ? AND id = ? AND expires > ?`,
          encodeFrame(outcome.frame),
          outcome.to,
          outcome.frame.id,
          now,
        ).rowsWritten;
        (written > 0 ? claimed : rest).push(outcome);
      }
    });
    return { claimed, rest };
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
    const purged = this.storage.sql.exec(
      "DELETE FROM http_requests WHERE expires <= ?",
      now,
    ).rowsWritten;
    const row = this.storage.sql.exec("SELECT MIN(expires) AS next FROM http_requests").one();
    return { purged, next: typeof row.next === "number" ? row.next : undefined };
  }
}
