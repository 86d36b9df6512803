import type { PolicyKind } from '../policy-kind.js';
import { accessLogPlugin } from './access-log.plugin.js';
import { accessLogSchema } from './access-log.schema.js';

/** The accessLog policy type (Envoy connection managers only). */
export const accessLogPolicy: PolicyKind = {
  type: 'accessLog',
  order: 90,
  attachTo: ['Listener', 'Route'],
  ...accessLogSchema,
  ...accessLogPlugin,
};
