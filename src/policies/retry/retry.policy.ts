import type { PolicyKind } from '../policy-kind.js';
import { retrySchema } from './retry.schema.js';
import { retryPlugin } from './retry.plugin.js';

/** The retry policy type. */
export const retryPolicy: PolicyKind = {
  type: 'retry',
  order: 30,
  attachTo: ['Service', 'Route'],
  ...retrySchema,
  ...retryPlugin,
};
