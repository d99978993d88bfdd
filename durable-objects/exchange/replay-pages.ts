/**
 * Pure paging of a reconnecting client's outbox replay. Every held outcome has a key from one
 * increasing sequence (outbox.ts `OutboxKeys`), in the SQLite outbox and in memory alike, so
 * "what this socket still has to get" is one number: the key of the last outcome it was sent.
 * A page takes the outcomes after it from both outboxes in key order (the order they were
 * stored), bounded in count and bytes; the next page goes once what the client was sent and has
 * not acked is down to half a page (the SDK acks every outcome; half, so the next page is on its
 * way while the client acks the rest): at most a page and a half unacked on the wire, however
 * the client splits its acks. While a socket replays,
 * outcomes that arrive are only stored: with keys after every page sent so far, they come in a
 * later page, never before older ones. The cursor lives in the socket's attachment, so a
 * hibernation between pages loses nothing. Used by exchange-do.ts and client-attachment.ts.
 */
import { isNonNegativeInteger, isRecord } from "../../protocol/index.js";

/** An outcome waiting for its client: its key (store order) and frame text. */
export interface PendingOutcome {
  key: number;
  text: string;
}

export interface Page {
  texts: string[];
  /** Key of the last outcome taken (the `after` given, when none was). */
  last: number;
  /** True when a limit stopped the page with outcomes left after it. */
  more: boolean;
}

/**
 * How far a socket's replay got: sent up to key `after`; `outstanding` outcomes sent and not
 * acked yet (never below 0: acks of other outcomes count too); `page`, the last page's size.
 */
export interface ReplayCursor {
  after: number;
  outstanding: number;
  page: number;
}

/**
 * The next page after key `after`, from sources each in increasing key order: merged, at most
 * `maxFrames` outcomes and `maxBytes` of text (but at least one outcome, however large).
 */
export function takePage(
  after: number,
  sources: readonly Iterable<PendingOutcome>[],
  maxFrames: number,
  maxBytes: number,
): Page {
  const iterators = sources.map((source) => source[Symbol.iterator]());
  try {
    return merge(iterators, after, maxFrames, maxBytes);
  } finally {
    for (const it of iterators) it.return?.();
  }
}

function merge(
  iterators: readonly Iterator<PendingOutcome>[],
  after: number,
  maxFrames: number,
  maxBytes: number,
): Page {
  const heads = iterators.map((it) => nextAfter(it, after));
  const page: Page = { texts: [], last: after, more: false };
  let bytes = 0;
  for (let at = earliest(heads); at >= 0; at = earliest(heads)) {
    const head = heads[at];
    const iterator = iterators[at];
    if (head === undefined || iterator === undefined) break;
    const full = page.texts.length >= maxFrames || bytes + head.text.length > maxBytes;
    if (page.texts.length > 0 && full) {
      page.more = true;
      break;
    }
    page.texts.push(head.text);
    page.last = head.key;
    bytes += head.text.length;
    heads[at] = nextAfter(iterator, head.key);
  }
  return page;
}

/** The index of the head with the smallest key, or -1 when every source is exhausted. */
function earliest(heads: readonly (PendingOutcome | undefined)[]): number {
  let at = -1;
  let key = Number.POSITIVE_INFINITY;
  heads.forEach((head, i) => {
    if (head !== undefined && head.key < key) {
      at = i;
      key = head.key;
    }
  });
  return at;
}

function nextAfter(it: Iterator<PendingOutcome>, after: number): PendingOutcome | undefined {
  for (let r = it.next(); r.done !== true; r = it.next()) if (r.value.key > after) return r.value;
  return undefined;
}

/**
 * The cursor after sending `page` with `outstanding` outcomes of earlier pages still unacked:
 * undefined when the replay is over (nothing was left).
 */
export function cursorAfter(page: Page, outstanding = 0): ReplayCursor | undefined {
  if (!page.more) return undefined;
  const size = page.texts.length;
  return { after: page.last, outstanding: outstanding + size, page: size };
}

/** The cursor once the client acked `ids` more outcomes, and whether the next page is due. */
export function afterAcks(
  cursor: ReplayCursor,
  ids: number,
): { cursor: ReplayCursor; due: boolean } {
  const outstanding = Math.max(0, cursor.outstanding - ids);
  return { cursor: { ...cursor, outstanding }, due: outstanding * 2 <= cursor.page };
}

/** Validates a cursor read back from an attachment. */
export function readReplayCursor(value: unknown): ReplayCursor | undefined {
  if (!isRecord(value)) return undefined;
  const { after, outstanding, page } = value;
  if (!isNonNegativeInteger(after) || !isNonNegativeInteger(outstanding)) return undefined;
  if (!isNonNegativeInteger(page)) return undefined;
  return { after, outstanding, page };
}
