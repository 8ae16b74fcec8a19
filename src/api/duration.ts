const UNITS_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses a duration as Go and etcdctl write them ("500ms", "2s", "1m30s") or a plain number of
 * seconds ("5", "0.5"). Returns milliseconds; throws a RangeError naming the input otherwise.
 */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const part = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  for (let match = part.exec(trimmed); match !== null; match = part.exec(trimmed)) {
    total += Number(match[1]) * (UNITS_MS[match[2]!] ?? 0);
    consumed = part.lastIndex;
  }
  if (consumed === 0 || consumed !== trimmed.length) {
    throw new RangeError(`invalid duration "${text}" (examples: 500ms, 2s, 1m30s)`);
  }
  return Math.round(total);
}
