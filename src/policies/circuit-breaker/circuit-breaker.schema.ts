import { Int } from '../../common/dto.js';
import type { PolicyKind } from '../policy-kind.js';

/** `spec.circuitBreaker`: Envoy cluster circuit-breaker thresholds. */
export class CircuitBreakerPolicyDto {
  @Int(1, 1000000, { optional: true }) maxConnections?: number;
  @Int(1, 1000000, { optional: true }) maxPendingRequests?: number;
  @Int(1, 1000000, { optional: true }) maxRequests?: number;
  @Int(1, 1000000, { optional: true }) maxRetries?: number;
}

/** The API side of circuitBreaker: the `spec.circuitBreaker` schema and its cross-field rules. */
export const circuitBreakerSchema: Pick<PolicyKind, 'schema' | 'check'> = {
  schema: CircuitBreakerPolicyDto,
  check(c: CircuitBreakerPolicyDto, path) {
    return Object.values(c).every((v) => v === undefined)
      ? [{ field: path, message: 'must set at least one threshold' }]
      : [];
  }
};
