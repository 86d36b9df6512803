import type { PolicyKind } from '../policy-kind.js';
import { loadBalancerPlugin } from './load-balancer.plugin.js';
import { loadBalancerSchema } from './load-balancer.schema.js';

/** The loadBalancer policy type. */
export const loadBalancerPolicy: PolicyKind = {
  type: 'loadBalancer',
  order: 60,
  attachTo: ['Service'],
  ...loadBalancerSchema,
  ...loadBalancerPlugin,
};
