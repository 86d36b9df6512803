import type { FieldViolation } from '../../common/errors.js';
import { RetryDto } from '../../registry/dto/route.dto.js';
import type { PolicyKind } from '../policy-kind.js';

/** `spec.retry` of a retry policy: the same settings a route rule's `retry` takes. */
export class RetryPolicyDto extends RetryDto {}

/** Backoff ceiling must not be below its base (shared by route rules and retry policies). */
export function checkBackoff(retry: { backoff?: { baseMs: number; maxMs?: number } } | undefined, path: string): FieldViolation[] {
  const b = retry?.backoff;
  if (b?.maxMs !== undefined && b.maxMs < b.baseMs) return [{ field: `${path}.backoff.maxMs`, message: `must be >= backoff.baseMs (${b.baseMs})` }];
  return [];
}

export const retryPolicy: PolicyKind = {
  type: 'retry',
  schema: RetryPolicyDto,
  check: checkBackoff,
  attachTo: ['Service', 'Route'],
  order: 30,
};
