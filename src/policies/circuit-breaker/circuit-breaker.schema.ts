import { Int, Nested, Num } from '../../common/dto.js';
import type { FieldViolation } from '../../common/errors.js';
import type { PolicyKind } from '../policy-kind.js';

/** The four limits of one priority. */
export class ThresholdsDto {
  @Int(1, 1000000, { optional: true, description: 'connections to the whole cluster (Envoy only)' }) maxConnections?: number;
  @Int(1, 1000000, { optional: true, description: 'requests waiting for a connection (Envoy only)' }) maxPendingRequests?: number;
  @Int(1, 1000000, { optional: true, description: 'requests in flight at once (Envoy and gRPC)' }) maxRequests?: number;
  @Int(1, 1000000, { optional: true, description: 'retries in flight at once (Envoy only)' }) maxRetries?: number;
}

/** A retry budget: retries in flight at most this share of requests in flight (Envoy only). */
export class RetryBudgetDto {
  @Num(0, 100, { description: 'percent of active requests', example: 20 }) budgetPercent!: number;
  @Int(1, 1000000, { optional: true, description: 'retries always allowed, whatever the budget', example: 3 }) minRetryConcurrency?: number;
}

/** `spec.circuitBreaker`: limits past which calls to the service fail fast instead of piling up. */
export class CircuitBreakerPolicyDto extends ThresholdsDto {
  @Nested(RetryBudgetDto, { description: 'replaces maxRetries with a share of active requests (Envoy only)' }) retryBudget?: RetryBudgetDto;
  @Nested(ThresholdsDto, { description: 'limits for HIGH priority routes (Envoy only; default: the same as above)' }) high?: ThresholdsDto;
}

const LIMITS = ['maxConnections', 'maxPendingRequests', 'maxRequests', 'maxRetries'] as const;

function check(c: CircuitBreakerPolicyDto, path: string): FieldViolation[] {
  const out: FieldViolation[] = [];
  if (LIMITS.every((k) => c[k] === undefined) && !c.retryBudget && !c.high) out.push({ field: path, message: 'must set at least one threshold' });
  if (c.high && LIMITS.every((k) => c.high![k] === undefined)) out.push({ field: `${path}.high`, message: 'must set at least one threshold' });
  return out;
}

/** The API side of circuitBreaker: the `spec.circuitBreaker` schema and its cross-field rules. */
export const circuitBreakerSchema: Pick<PolicyKind, 'schema' | 'check'> = { schema: CircuitBreakerPolicyDto, check };
