import assert from 'node:assert/strict';

/**
 * How far a measured share may stray from the configured one. The data plane
 * picks per call with Math.random (weighted clusters, fault percentages), so
 * `k` of `n` calls is binomial: a fixed band such as ±5 points over 1,000 calls
 * at 30 % is 3.4 standard deviations and fails about one run in 1,800 with a
 * correct data plane (CI saw 24.9 %). Five standard deviations fail about one
 * run in 1.7 million, and still tell every real fault apart (a share ignored,
 * swapped or off by a denominator is tens of deviations away).
 */
export const SHARE_SIGMAS = 5;

/** Half-width, in percentage points, of the band `n` calls at `percent` % fall in. */
export function shareBand(n: number, percent: number): number {
  const p = percent / 100;
  return SHARE_SIGMAS * Math.sqrt((p * (1 - p)) / n) * 100;
}

/** Asserts `k` of `n` calls is `percent` % within the binomial band; the message names the band. */
export function assertShare(k: number, n: number, percent: number, what: string): void {
  const got = (k / n) * 100;
  const band = shareBand(n, percent);
  assert.ok(Math.abs(got - percent) <= band, `${what}: ${got.toFixed(1)} % of ${n} calls, wanted ${percent} ± ${band.toFixed(1)} (${SHARE_SIGMAS} σ)`);
}
