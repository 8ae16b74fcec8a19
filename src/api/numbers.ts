/** Parses a whole number >= 0 given on a command line or in a form; throws a RangeError naming the flag. */
export function parseNonNegativeInteger(flag: string, value: string | number): number {
  const text = String(value).trim();
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new RangeError(`${flag} must be a whole number >= 0, not "${value}"`);
  }
  return Number(text);
}
