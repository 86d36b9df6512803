import { Int, OneOf, Str } from '../../common/dto.js';
import type { PolicyKind } from '../policy-kind.js';

export const LB_ALGORITHMS = ['roundRobin', 'leastRequest', 'random', 'ringHash', 'maglev'] as const;

/** `spec.loadBalancer`: endpoint picking algorithm. */
export class LoadBalancerPolicyDto {
  @OneOf(LB_ALGORITHMS) algorithm!: string;
  @Str({ optional: true, min: 1, max: 256, description: 'header to hash on (ringHash, maglev)' }) hashHeader?: string;
  @Int(2, 100, { optional: true, description: 'leastRequest: endpoints sampled per pick' }) choiceCount?: number;
}

/** The API side of loadBalancer: the `spec.loadBalancer` schema and its cross-field rules. */
export const loadBalancerSchema: Pick<PolicyKind, 'schema' | 'check'> = {
  schema: LoadBalancerPolicyDto,
  check(lb: LoadBalancerPolicyDto, path) {
    const out = [];
    if (lb.hashHeader !== undefined && lb.algorithm !== 'ringHash' && lb.algorithm !== 'maglev')
      out.push({ field: `${path}.hashHeader`, message: 'only applies to ringHash and maglev' });
    if (lb.choiceCount !== undefined && lb.algorithm !== 'leastRequest')
      out.push({ field: `${path}.choiceCount`, message: 'only applies to leastRequest' });
    return out;
  }
};
