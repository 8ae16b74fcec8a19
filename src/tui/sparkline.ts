/** How many samples the live view's request-rate line keeps (one per refresh). */
export const SPARKLINE_SAMPLES = 40;

const BARS = '▁▂▃▄▅▆▇█';

/** One bar per value, scaled from 0 to the largest value; an empty string for none. */
export function sparkline(values: readonly number[]): string {
  const top = Math.max(0, ...values);
  return values.map((value) => BARS[top === 0 ? 0 : Math.min(BARS.length - 1, Math.floor((Math.max(0, value) / top) * (BARS.length - 1)))]).join('');
}

/** The cluster's client requests per second in a snapshot: the sum over the members that said. */
export function clusterRate(rates: ReadonlyArray<number | undefined>): number | undefined {
  const known = rates.filter((rate): rate is number => rate !== undefined);
  return known.length === 0 ? undefined : known.reduce((sum, rate) => sum + rate, 0);
}
