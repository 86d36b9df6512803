import type { Json, PolicyPlugin } from '../../translate/plugin.js';
import type { CircuitBreakerPolicyDto, ThresholdsDto } from './circuit-breaker.schema.js';

const FIELDS = { maxConnections: 'max_connections', maxPendingRequests: 'max_pending_requests', maxRequests: 'max_requests', maxRetries: 'max_retries' } as const;

const thresholds = (priority: 'DEFAULT' | 'HIGH', t: ThresholdsDto, extra: Json = {}): Json => {
  const out: Json = { priority };
  for (const [k, f] of Object.entries(FIELDS)) if (t[k as keyof ThresholdsDto] !== undefined) out[f] = { value: t[k as keyof ThresholdsDto] };
  return { ...out, ...extra };
};

/**
 * circuitBreaker → `circuit_breakers.thresholds`. Envoy gets DEFAULT and HIGH
 * priority limits and the retry budget. Proxyless gRPC clients honour only
 * DEFAULT max_requests (over it: UNAVAILABLE "Call dropped by load balancing
 * policy"); whatever else is set is reported NotEnforced.
 */
export const circuitBreakerPlugin: Pick<PolicyPlugin, 'cluster'> = {
  cluster(out, c: CircuitBreakerPolicyDto, ctx) {
    if (ctx.group.kind === 'envoy') {
      const budget = c.retryBudget
        ? { retry_budget: { budget_percent: { value: c.retryBudget.budgetPercent }, ...(c.retryBudget.minRetryConcurrency !== undefined ? { min_retry_concurrency: { value: c.retryBudget.minRetryConcurrency } } : {}) } }
        : {};
      const list = [thresholds('DEFAULT', c, budget), thresholds('HIGH', { ...pick(c), ...(c.high ?? {}) }, budget)];
      return { ...out, circuit_breakers: { thresholds: list } };
    }
    const ignored = [...(Object.keys(FIELDS) as (keyof ThresholdsDto)[]).filter((k) => k !== 'maxRequests' && c[k] !== undefined), ...(c.retryBudget ? ['retryBudget'] : []), ...(c.high ? ['high'] : [])];
    if (ignored.length) ctx.report({ severity: 'warning', reason: 'NotEnforced', message: `proxyless gRPC clients enforce only maxRequests; ${ignored.join(', ')} ${ignored.length > 1 ? 'are' : 'is'} not sent to them` });
    return c.maxRequests !== undefined ? { ...out, circuit_breakers: { thresholds: [{ priority: 'DEFAULT', max_requests: { value: c.maxRequests } }] } } : out;
  },
};

const pick = (c: ThresholdsDto): ThresholdsDto => ({ maxConnections: c.maxConnections, maxPendingRequests: c.maxPendingRequests, maxRequests: c.maxRequests, maxRetries: c.maxRetries });
