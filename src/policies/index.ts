import { accessLogPolicy } from './access-log/access-log.policy.js';
import { circuitBreakerPolicy } from './circuit-breaker/circuit-breaker.policy.js';
import { faultInjectionPolicy } from './fault-injection/fault-injection.policy.js';
import { healthCheckPolicy } from './health-check/health-check.policy.js';
import { loadBalancerPolicy } from './load-balancer/load-balancer.policy.js';
import { outlierDetectionPolicy } from './outlier-detection/outlier-detection.policy.js';
import type { PolicyKind } from './policy-kind.js';
import { rateLimitPolicy } from './rate-limit/rate-limit.policy.js';
import { retryPolicy } from './retry/retry.policy.js';
import { timeoutPolicy } from './timeout/timeout.policy.js';
import { tracingPolicy } from './tracing/tracing.policy.js';

/** Every policy type, in plugin order. Adding a type is its folder plus one line here. */
export const POLICY_KINDS: readonly PolicyKind[] = [
  faultInjectionPolicy,
  rateLimitPolicy,
  timeoutPolicy,
  retryPolicy,
  circuitBreakerPolicy,
  outlierDetectionPolicy,
  loadBalancerPolicy,
  healthCheckPolicy,
  tracingPolicy,
  accessLogPolicy,
].sort((a, b) => a.order - b.order);

/** The `spec.type` values a Policy may have. */
export const POLICY_TYPES: readonly string[] = POLICY_KINDS.map((k) => k.type);

const BY_TYPE = new Map(POLICY_KINDS.map((k) => [k.type, k]));

/** The kind behind a `spec.type`, if it is one. */
export const policyKind = (type: string): PolicyKind | undefined => BY_TYPE.get(type);

export type { PolicyKind } from './policy-kind.js';
