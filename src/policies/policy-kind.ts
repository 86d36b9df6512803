import type { FieldViolation } from '../common/errors.js';
import type { PolicyType } from '../registry/model.js';

/**
 * What each policy kind contributes. The schema class validates the shape of
 * `spec.<type>`; `check` adds rules that span fields. Later stages add an xDS
 * plugin here, applied in `order`.
 */
export interface PolicyKind {
  type: PolicyType;
  /** class-validator DTO for `spec.<type>`. */
  schema: new () => object;
  /** Cross-field rules; `path` is the field path of the settings object. */
  check?(settings: any, path: string): FieldViolation[];
  /** Where the policy may be attached. */
  attachTo: ('Service' | 'Route')[];
  /** Application order of xDS plugins (lower first). */
  order: number;
}
