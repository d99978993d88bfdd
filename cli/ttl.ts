/** Durations for `edgemq token --ttl`: 90s, 15m, 1h, 7d. */
const TTL_UNITS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86400 };

/**
 * Parses a duration like 90s, 15m, 1h or 7d into seconds; undefined when malformed or zero (a
 * token minted with a zero duration would expire as it is issued).
 */
export function parseTtl(text: string): number | undefined {
  const match = /^(\d{1,9})([smhd])$/.exec(text);
  if (!match?.[1] || !match[2]) return undefined;
  const unit = TTL_UNITS[match[2]];
  const count = Number(match[1]);
  return unit === undefined || count === 0 ? undefined : count * unit;
}
