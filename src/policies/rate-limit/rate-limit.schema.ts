import { Int, OneOf } from '../../common/dto.js';
import type { PolicyKind } from '../policy-kind.js';

/** `spec.rateLimit`: local token-bucket rate limit. */
export class RateLimitPolicyDto {
  @Int(1, 1000000000, { example: 100 }) requests!: number;
  @OneOf(['second', 'minute', 'hour']) unit!: string;
  @Int(1, 1000000000, { optional: true, description: 'bucket size (default: requests)' }) burst?: number;
}

/** The API side of rateLimit: the `spec.rateLimit` schema and its cross-field rules. */
export const rateLimitSchema: Pick<PolicyKind, 'schema' | 'check'> = {
  schema: RateLimitPolicyDto,
  check(r: RateLimitPolicyDto, path) {
    return r.burst !== undefined && r.burst < r.requests
      ? [{ field: `${path}.burst`, message: `must be >= requests (${r.requests})` }]
      : [];
  }
};
