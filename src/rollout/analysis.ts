import type { RolloutMetric, RolloutSpec } from '../model/resources.js';
import type { AnalysisResult, MetricResult } from '../model/rollout.js';

/** Completed requests of one subset in one interval, from load reports. */
export interface Counts {
  succeeded: number;
  errored: number;
}

/** What a query metric returned: a number, or why there is none. */
export type QueryValue = number | { error: string };

const round = (x: number) => Math.round(x * 100) / 100;
const rate = (c: Counts) => (c.succeeded + c.errored ? (c.succeeded / (c.succeeded + c.errored)) * 100 : null);

/**
 * Judges one interval of live traffic. Pure. Too few canary requests make the
 * whole check inconclusive (never a success); a metric that cannot be measured
 * (latency with no Prometheus query, a comparison with no stable traffic) is
 * Unavailable and does not decide.
 */
export function analyse(spec: NonNullable<RolloutSpec['analysis']>, canary: Counts, stable: Counts, queries: Record<string, QueryValue>, at: string): AnalysisResult {
  const canaryRequests = canary.succeeded + canary.errored;
  const stableRequests = stable.succeeded + stable.errored;
  const enough = canaryRequests >= spec.minRequests;
  const metrics = spec.metrics.map((m) => judge(m, canary, stable, queries[m.name], enough));
  const failed = metrics.filter((m) => m.result === 'Failed');
  const result = !enough ? 'Inconclusive' : failed.length ? 'Failed' : metrics.some((m) => m.result === 'Inconclusive') ? 'Inconclusive' : 'Successful';
  const message = !enough
    ? `inconclusive: ${canaryRequests} canary request(s) in the interval, fewer than minRequests ${spec.minRequests}`
    : failed.length
      ? failed.map((m) => `${m.name} ${m.value} ${m.threshold === undefined ? '' : `(wanted ${m.threshold})`}`.trim()).join('; ')
      : result === 'Inconclusive'
        ? metrics.filter((m) => m.result === 'Inconclusive').map((m) => `${m.name}: ${m.message}`).join('; ')
        : `every metric passed over ${canaryRequests} canary request(s)`;
  const pct = (c: Counts) => {
    const r = rate(c);
    return r === null ? null : round(r);
  };
  return { at, result, canaryRequests, stableRequests, canarySuccessRate: pct(canary), stableSuccessRate: pct(stable), metrics, message };
}

function judge(m: RolloutMetric, canary: Counts, stable: Counts, query: QueryValue | undefined, enough: boolean): MetricResult {
  const out = (value: number | null, threshold: string, ok: boolean | 'unavailable', message?: string): MetricResult => ({
    name: m.name,
    value: value === null ? null : round(value),
    threshold,
    result: ok === 'unavailable' ? 'Unavailable' : !enough ? 'Inconclusive' : ok ? 'Successful' : 'Failed',
    ...(message ? { message } : {}),
  });
  switch (m.name) {
    case 'successRate': {
      const r = rate(canary);
      return r === null ? out(null, `≥ ${m.min} %`, true) : out(r, `≥ ${m.min} %`, r >= m.min!);
    }
    case 'successRateVsStable': {
      const c = rate(canary);
      const s = rate(stable);
      if (s === null || c === null) return out(null, `drop ≤ ${m.maxDropPoints} points`, 'unavailable', 'no stable traffic to compare with');
      return out(s - c, `drop ≤ ${m.maxDropPoints} points`, s - c <= m.maxDropPoints!, `canary ${round(c)} % vs stable ${round(s)} %`);
    }
    case 'latencyP99':
      if (query === undefined) return out(null, `≤ ${m.maxMs} ms`, 'unavailable', 'load reports carry no latency: give latencyP99 a Prometheus query');
      if (typeof query !== 'number') return out(null, `≤ ${m.maxMs} ms`, 'unavailable', query.error);
      return out(query, `≤ ${m.maxMs} ms`, query <= m.maxMs!);
    default: {
      const threshold = [m.min !== undefined ? `≥ ${m.min}` : '', m.max !== undefined ? `≤ ${m.max}` : ''].filter(Boolean).join(' and ');
      if (query === undefined || typeof query !== 'number') return out(null, threshold, 'unavailable', query === undefined ? 'not queried' : query.error);
      return out(query, threshold, (m.min === undefined || query >= m.min) && (m.max === undefined || query <= m.max));
    }
  }
}
