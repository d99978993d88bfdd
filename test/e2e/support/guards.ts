/**
 * Narrowing helpers for data that crosses a process boundary (IPC answers from peer processes,
 * frames read off raw sockets). A value of the wrong shape throws with a message naming it.
 */
export type Fields = Record<string, unknown>;

export function isRecord(value: unknown): value is Fields {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function record(value: unknown, what: string): Fields {
  if (!isRecord(value))
    throw new Error(`${what}: expected an object, got ${JSON.stringify(value)}`);
  return value;
}

export function num(value: unknown, what: string): number {
  if (typeof value !== "number")
    throw new Error(`${what}: expected a number, got ${String(value)}`);
  return value;
}

export function str(value: unknown, what: string): string {
  if (typeof value !== "string")
    throw new Error(`${what}: expected a string, got ${String(value)}`);
  return value;
}

export function list(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new Error(`${what}: expected an array`);
  return value;
}

/** A `{ name: count }` object, e.g. errors by code. */
export function counts(value: unknown, what: string): Record<string, number> {
  const fields = record(value, what);
  const out: Record<string, number> = {};
  for (const [key, v] of Object.entries(fields)) out[key] = num(v, `${what}.${key}`);
  return out;
}
