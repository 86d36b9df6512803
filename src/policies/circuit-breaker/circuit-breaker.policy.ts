import type { PolicyKind } from '../policy-kind.js';
import { circuitBreakerPlugin } from './circuit-breaker.plugin.js';
import { circuitBreakerSchema } from './circuit-breaker.schema.js';

/** The circuitBreaker policy type. */
export const circuitBreakerPolicy: PolicyKind = {
  type: 'circuitBreaker',
  order: 40,
  attachTo: ['Service'],
  ...circuitBreakerSchema,
  ...circuitBreakerPlugin,
};
