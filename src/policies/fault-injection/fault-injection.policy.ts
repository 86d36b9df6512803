import type { PolicyKind } from '../policy-kind.js';
import { faultInjectionPlugin } from './fault-injection.plugin.js';
import { faultInjectionSchema } from './fault-injection.schema.js';

/** The faultInjection policy type. */
export const faultInjectionPolicy: PolicyKind = {
  type: 'faultInjection',
  order: 5,
  attachTo: ['Service', 'Route'],
  ...faultInjectionSchema,
  ...faultInjectionPlugin,
};
