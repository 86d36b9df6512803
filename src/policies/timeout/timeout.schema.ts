import type { FieldViolation } from '../../common/errors.js';
import { Int } from '../../common/dto.js';
import type { PolicyKind } from '../policy-kind.js';

/** `spec.timeout` of a timeout policy. */
export class TimeoutPolicyDto {
  @Int(1, 3600000, { optional: true, description: 'whole request, including retries' }) requestMs?: number;
  @Int(1, 86400000, { optional: true, description: 'idle stream/connection timeout' }) idleMs?: number;
  @Int(1, 600000, { optional: true, description: 'upstream connect timeout' }) connectMs?: number;
}

/** The API side of timeout: the `spec.timeout` schema and its cross-field rules. */
export const timeoutSchema: Pick<PolicyKind, 'schema' | 'check'> = {
  schema: TimeoutPolicyDto,
  check(t: TimeoutPolicyDto, path): FieldViolation[] {
    return t.requestMs === undefined && t.idleMs === undefined && t.connectMs === undefined
      ? [{ field: path, message: 'must set at least one of requestMs, idleMs, connectMs' }]
      : [];
  }
};
