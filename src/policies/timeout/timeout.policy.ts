import type { PolicyKind } from '../policy-kind.js';
import { timeoutSchema } from './timeout.schema.js';
import { timeoutPlugin } from './timeout.plugin.js';

/** The timeout policy type. */
export const timeoutPolicy: PolicyKind = {
  type: 'timeout',
  order: 20,
  attachTo: ['Service', 'Route'],
  ...timeoutSchema,
  ...timeoutPlugin,
};
