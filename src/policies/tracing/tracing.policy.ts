import type { PolicyKind } from '../policy-kind.js';
import { tracingPlugin } from './tracing.plugin.js';
import { tracingSchema } from './tracing.schema.js';

/** The tracing policy type (Envoy connection managers only). */
export const tracingPolicy: PolicyKind = {
  type: 'tracing',
  order: 80,
  attachTo: ['Listener', 'Route'],
  ...tracingSchema,
  ...tracingPlugin,
};
