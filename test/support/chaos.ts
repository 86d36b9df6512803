import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../src/common/paths.js';

/**
 * The chaos suite runs in two forms: a short one inside `npm test` (outages
 * of a few seconds, small fleets), and the full one behind `npm run chaos`
 * (CHAOS_FULL=1: the durations and sizes issue 16 names).
 */
export const CHAOS_FULL = process.env.CHAOS_FULL === '1';

/** The full-form value under `npm run chaos`, the short-form one in `npm test`. */
export function chaosScale<T>(full: T, short: T): T {
  return CHAOS_FULL ? full : short;
}

/** One scenario's outcome: its pass criterion, and the figures it measured. */
export interface ChaosReport {
  scenario: string;
  criterion: string;
  /** Measured figures, named with their unit (e.g. `reconvergeMs`, `failedCalls`). */
  figures: Record<string, number | string | boolean>;
}

/**
 * Prints a scenario's figures and writes them to
 * test-artifacts/chaos/<slug>.json, so RELIABILITY.md can quote a run.
 * Call it after the assertions, so only a passing scenario reports.
 */
export function reportChaos(r: ChaosReport): void {
  const form = CHAOS_FULL ? 'full' : 'short';
  const slug = r.scenario.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
  const dir = join(PACKAGE_ROOT, 'test-artifacts', 'chaos');
  mkdirSync(dir, { recursive: true });
  const out = { ...r, form, at: new Date().toISOString() };
  writeFileSync(join(dir, `${slug}.${form}.json`), JSON.stringify(out, null, 2) + '\n');
  console.log(`chaos [${form}] ${r.scenario}: ${JSON.stringify(r.figures)}`);
}
