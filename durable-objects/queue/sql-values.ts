/**
 * Narrowing of values read from SQLite rows (typed `SqlStorageValue`, never cast): a row that
 * does not have the shape we wrote is reported, not trusted. Used by request-store.ts.
 */

export class CorruptRowError extends Error {
  override readonly name = "CorruptRowError";
}

export function num(value: unknown, column: string): number {
  if (typeof value !== "number") throw new CorruptRowError(`${column} is not a number`);
  return value;
}

export function str(value: unknown, column: string): string {
  if (typeof value !== "string") throw new CorruptRowError(`${column} is not text`);
  return value;
}

export function optNum(value: unknown, column: string): number | null {
  return value === null ? null : num(value, column);
}

export function optStr(value: unknown, column: string): string | null {
  return value === null ? null : str(value, column);
}

/** JSON text parsed to `unknown` (callers validate it); `undefined` when not JSON. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
