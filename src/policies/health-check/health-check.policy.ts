import type { PolicyKind } from '../policy-kind.js';
import { healthCheckSchema } from './health-check.schema.js';
import { healthCheckPlugin } from './health-check.plugin.js';

/** The healthCheck policy type. */
export const healthCheckPolicy: PolicyKind = {
  type: 'healthCheck',
  order: 70,
  attachTo: ['Service'],
  ...healthCheckSchema,
  ...healthCheckPlugin,
};
