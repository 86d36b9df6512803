import { Int } from '../../registry/dto/common.js';
import type { PolicyKind } from '../policy-kind.js';

/** `spec.circuitBreaker`: Envoy cluster circuit-breaker thresholds. */
export class CircuitBreakerPolicyDto {
  @Int(1, 1000000, { optional: true }) maxConnections?: number;
  @Int(1, 1000000, { optional: true }) maxPendingRequests?: number;
  @Int(1, 1000000, { optional: true }) maxRequests?: number;
  @Int(1, 1000000, { optional: true }) maxRetries?: number;
}

export const circuitBreakerPolicy: PolicyKind = {
  type: 'circuitBreaker',
  schema: CircuitBreakerPolicyDto,
  check(c: CircuitBreakerPolicyDto, path) {
    return Object.values(c).every((v) => v === undefined)
      ? [{ field: path, message: 'must set at least one threshold' }]
      : [];
  },
  attachTo: ['Service'],
  order: 40,
};
