import type { PolicyKind } from '../policy-kind.js';
import { rateLimitPlugin } from './rate-limit.plugin.js';
import { rateLimitSchema } from './rate-limit.schema.js';

/** The rateLimit policy type. */
export const rateLimitPolicy: PolicyKind = {
  type: 'rateLimit',
  order: 10,
  attachTo: ['Service', 'Route'],
  ...rateLimitSchema,
  ...rateLimitPlugin,
};
