/** Clock and small statistics shared by the coordinator, the workers and the floor. */

/**
 * Wall-clock time in epoch milliseconds with sub-millisecond resolution.
 * Every process uses this, so times taken in workers and in the coordinator
 * can be subtracted from each other.
 */
export const now = (): number => performance.timeOrigin + performance.now();

/** Percentiles of a sample (nearest rank); all NaN for an empty sample. */
export interface Percentiles {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export function percentiles(values: number[]): Percentiles {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const at = (q: number) => (v.length ? v[Math.min(v.length - 1, Math.max(0, Math.ceil(q * v.length) - 1))] : NaN);
  return { count: v.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: v.length ? v[v.length - 1] : NaN };
}

/** Median (lower middle for an even count, so it is always a measured value); NaN when empty. */
export function median(values: number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return v.length ? v[Math.floor((v.length - 1) / 2)] : NaN;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
