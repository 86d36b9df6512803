import type { FieldViolation } from '../common/errors.js';
import type { PolicyPlugin } from '../translate/plugin.js';

/**
 * Everything one policy type is: its API schema and validator (for the
 * registry) and its xDS plugin (for translation). Each type lives in its own
 * folder, src/policies/<type>/, and is registered by one line in index.ts.
 */
export interface PolicyKind extends PolicyPlugin {
  /** class-validator DTO for `spec.<type>`. */
  schema: new () => object;
  /** Cross-field rules; `path` is the field path of the settings object. */
  check?(settings: any, path: string): FieldViolation[];
}
