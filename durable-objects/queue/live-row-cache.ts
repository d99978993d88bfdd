/**
 * The live requests a durable queue wrote since it woke, kept in memory beside SQLite so the hot
 * path reads them without a query (a dispatch and an answer each read their row: two `SELECT *`
 * per request, with the body parsed and re-validated each time). SQLite stays the truth: the
 * cache holds only rows this object inserted and has changed through its own statements, each
 * change made after its statement succeeded; a miss falls back to SQLite. A finished request
 * leaves the cache. Bounded by row count and stored body characters, so large bodies stay on disk.
 * A transaction that throws clears it (`clear`): SQLite rolled back what the cache may still show.
 * Used by request-store.ts.
 */
import type { StoredRequest } from "./request-row.js";

/** Most rows cached, and most characters of stored body JSON among them. */
export const CACHE_MAX_ROWS = 10_000;
export const CACHE_MAX_BODY_CHARS = 8 * 1024 * 1024;

export class LiveRowCache {
  private readonly rows = new Map<number, { row: StoredRequest; chars: number }>();
  private bodyChars = 0;

  constructor(
    private readonly maxRows = CACHE_MAX_ROWS,
    private readonly maxBodyChars = CACHE_MAX_BODY_CHARS,
  ) {}

  get size(): number {
    return this.rows.size;
  }

  /** A copy of the cached row, or undefined (not cached: read SQLite). */
  get(rid: number): StoredRequest | undefined {
    const entry = this.rows.get(rid);
    return entry === undefined ? undefined : { ...entry.row };
  }

  /** Whether `rows` more rows with `chars` of stored body in all would be cached. */
  fits(rows: number, chars: number): boolean {
    return this.rows.size + rows <= this.maxRows && this.bodyChars + chars <= this.maxBodyChars;
  }

  /** The cached row itself, read-only (no copy: for reading a field or two), or undefined. */
  peek(rid: number): Readonly<StoredRequest> | undefined {
    return this.rows.get(rid)?.row;
  }

  /** Caches a freshly inserted row whose stored body and headers take `chars`, if it fits. */
  add(row: StoredRequest, chars: number): void {
    if (!this.fits(1, chars)) return;
    this.rows.set(row.rid, { row, chars });
    this.bodyChars += chars;
  }

  /** Applies a change the store just wrote to row `rid`, if cached. */
  update(rid: number, change: (row: StoredRequest) => void): void {
    const entry = this.rows.get(rid);
    if (entry !== undefined) change(entry.row);
  }

  /** Applies a change the store just wrote to every cached row. */
  updateAll(change: (row: StoredRequest) => void): void {
    for (const { row } of this.rows.values()) change(row);
  }

  delete(rid: number): void {
    const entry = this.rows.get(rid);
    if (entry === undefined) return;
    this.rows.delete(rid);
    this.bodyChars -= entry.chars;
  }

  clear(): void {
    this.rows.clear();
    this.bodyChars = 0;
  }
}
