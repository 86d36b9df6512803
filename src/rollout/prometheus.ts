import type { QueryValue } from './analysis.js';

/**
 * One instant query against a Prometheus HTTP API. The first sample of a
 * vector, or a scalar; anything else is an error that makes the metric
 * Unavailable (a number is never made up).
 */
export async function promQuery(baseUrl: string, query: string, timeoutMs = 5000): Promise<QueryValue> {
  const url = `${baseUrl.replace(/\/+$/, '')}/api/v1/query?query=${encodeURIComponent(query)}`;
  let body: any;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return { error: `Prometheus answered HTTP ${res.status}` };
    body = await res.json();
  } catch (e) {
    return { error: `Prometheus unreachable: ${(e as Error).message}` };
  }
  if (body?.status !== 'success') return { error: `Prometheus query failed: ${body?.error ?? 'no status'}` };
  const data = body.data;
  const raw = data?.resultType === 'scalar' ? data.result?.[1] : data?.resultType === 'vector' ? data.result?.[0]?.value?.[1] : undefined;
  if (raw === undefined) return { error: 'the query returned no sample' };
  const v = Number(raw);
  return Number.isFinite(v) ? v : { error: `the query returned ${raw}` };
}

/** Fills a query template: {{service}}, {{stable}}, {{canary}}, {{interval}} (e.g. 10s). */
export const fillQuery = (q: string, vars: Record<string, string>) => q.replace(/\{\{\s*(\w+)\s*\}\}/g, (m, k: string) => vars[k] ?? m);
