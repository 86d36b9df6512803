import type { PolicyType } from '../registry/model.js';
import { circuitBreakerPolicy } from './circuit-breaker/circuit-breaker.policy.js';
import { healthCheckPolicy } from './health-check/health-check.policy.js';
import { loadBalancerPolicy } from './load-balancer/load-balancer.policy.js';
import { outlierDetectionPolicy } from './outlier-detection/outlier-detection.policy.js';
import type { PolicyKind } from './policy-kind.js';
import { rateLimitPolicy } from './rate-limit/rate-limit.policy.js';
import { retryPolicy } from './retry/retry.policy.js';
import { timeoutPolicy } from './timeout/timeout.policy.js';

/** Every policy kind, by type, sorted by plugin order. */
export const POLICY_KINDS: Record<PolicyType, PolicyKind> = Object.fromEntries(
  [rateLimitPolicy, timeoutPolicy, retryPolicy, circuitBreakerPolicy, outlierDetectionPolicy, loadBalancerPolicy, healthCheckPolicy]
    .sort((a, b) => a.order - b.order)
    .map((k) => [k.type, k]),
) as Record<PolicyType, PolicyKind>;

export type { PolicyKind } from './policy-kind.js';
