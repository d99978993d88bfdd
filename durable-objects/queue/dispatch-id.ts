/**
 * The relay's id for a dispatched request, as servers see it (`dispatch`, `cancel`, HTTP takes)
 * and answer with it (`reply`, `fail`, `extend`): the request's row id in decimal, zero-padded to
 * 12 digits. Opaque to servers. The padding is for speed: V8's JSON.parse interns string values
 * of up to 10 characters, so a short id that is new with every request went into the isolate's
 * string table with every server message (3-4% of a memory queue's CPU per request, measured
 * with perf in bench/README.md). A memory queue's ids are 16 digits (memory-request-store.ts:
 * unique across restarts), so they need no padding.
 */

const WIDTH = 12;
const ID = /^[0-9]{1,16}$/;

export function dispatchId(rid: number): string {
  return String(rid).padStart(WIDTH, "0");
}

/** The row id a dispatch id names, or undefined when it is not one (unpadded ids are read too). */
export function ridOf(id: string): number | undefined {
  if (!ID.test(id)) return undefined;
  const rid = Number(id);
  return rid >= 1 && Number.isSafeInteger(rid) ? rid : undefined;
}
