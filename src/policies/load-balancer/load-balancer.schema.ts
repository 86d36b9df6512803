import { Matches } from 'class-validator';
import { Bool, Int, Nested, OneOf, Str } from '../../common/dto.js';
import type { FieldViolation } from '../../common/errors.js';
import type { PolicyKind } from '../policy-kind.js';

export const LB_ALGORITHMS = ['roundRobin', 'leastRequest', 'random', 'ringHash', 'maglev'] as const;

/** A cookie to hash on; Envoy sets it when absent (with a ttl). */
export class HashCookieDto {
  @Str({ min: 1, max: 256, example: 'session' }) @Matches(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, { message: 'must be a valid cookie name' }) name!: string;
  @Int(0, 86400000, { optional: true, description: 'lifetime of a generated cookie (0 = session cookie)' }) ttlMs?: number;
  @Str({ optional: true, min: 1, max: 1024 }) path?: string;
}

/** What a consistent hash is computed over: exactly one of these. */
export class HashOnDto {
  @Str({ optional: true, min: 1, max: 256, example: 'x-user' }) @Matches(/^[0-9a-zA-Z!#$%&'*+\-.^_|~`]+$/, { message: 'must be a valid HTTP header name' }) header?: string;
  @Nested(HashCookieDto, { description: 'Envoy only' }) cookie?: HashCookieDto;
  @Bool({ description: 'the client address (Envoy only)' }) sourceIp?: boolean;
}

/** Ring sizes of ringHash. */
export class RingSizeDto {
  @Int(1, 8388608, { optional: true, example: 1024 }) min?: number;
  @Int(1, 8388608, { optional: true, example: 8388608 }) max?: number;
}

/** `spec.loadBalancer`: how a client picks an endpoint of the service. */
export class LoadBalancerPolicyDto {
  @OneOf(LB_ALGORITHMS) algorithm!: string;
  @Nested(HashOnDto, { description: 'ringHash, maglev: what to hash on (default: Envoy a random value, gRPC the channel)' }) hashOn?: HashOnDto;
  @Str({ optional: true, min: 1, max: 256, description: 'shorthand for hashOn.header' }) hashHeader?: string;
  @Int(2, 100, { optional: true, description: 'leastRequest: endpoints sampled per pick' }) choiceCount?: number;
  @Nested(RingSizeDto) ringSize?: RingSizeDto;
  @Int(5, 65537, { optional: true, description: 'maglev: lookup table size, a prime (Envoy only)' }) tableSize?: number;
  @Int(1, 3600000, { optional: true, description: 'roundRobin, leastRequest: ramp a new endpoint up over this long (Envoy only)' }) slowStartWindowMs?: number;
  @Bool({ description: "prefer endpoints in the client's own zone, then its region, then the rest (EDS priorities from node.locality)" }) localityFailover?: boolean;
}

function check(lb: LoadBalancerPolicyDto, path: string): FieldViolation[] {
  const out: FieldViolation[] = [];
  const hashing = lb.algorithm === 'ringHash' || lb.algorithm === 'maglev';
  if (lb.hashHeader !== undefined && !hashing) out.push({ field: `${path}.hashHeader`, message: 'only applies to ringHash and maglev' });
  if (lb.hashHeader !== undefined && lb.hashOn !== undefined) out.push({ field: `${path}.hashHeader`, message: 'set hashOn or hashHeader, not both' });
  if (lb.hashOn) {
    if (!hashing) out.push({ field: `${path}.hashOn`, message: 'only applies to ringHash and maglev' });
    const set = (['header', 'cookie', 'sourceIp'] as const).filter((k) => lb.hashOn![k] !== undefined);
    if (set.length !== 1) out.push({ field: `${path}.hashOn`, message: `set exactly one of header, cookie, sourceIp (got ${set.length ? set.join(', ') : 'none'})` });
    if (lb.hashOn.sourceIp === false) out.push({ field: `${path}.hashOn.sourceIp`, message: 'must be true when set' });
  }
  if (lb.choiceCount !== undefined && lb.algorithm !== 'leastRequest') out.push({ field: `${path}.choiceCount`, message: 'only applies to leastRequest' });
  if (lb.ringSize !== undefined && lb.algorithm !== 'ringHash') out.push({ field: `${path}.ringSize`, message: 'only applies to ringHash' });
  if (lb.ringSize?.min !== undefined && lb.ringSize.max !== undefined && lb.ringSize.max < lb.ringSize.min)
    out.push({ field: `${path}.ringSize.max`, message: `must be >= ringSize.min (${lb.ringSize.min})` });
  if (lb.tableSize !== undefined && lb.algorithm !== 'maglev') out.push({ field: `${path}.tableSize`, message: 'only applies to maglev' });
  if (lb.tableSize !== undefined && !isPrime(lb.tableSize)) out.push({ field: `${path}.tableSize`, message: 'must be a prime number' });
  if (lb.slowStartWindowMs !== undefined && lb.algorithm !== 'roundRobin' && lb.algorithm !== 'leastRequest')
    out.push({ field: `${path}.slowStartWindowMs`, message: 'only applies to roundRobin and leastRequest' });
  return out;
}

function isPrime(n: number): boolean {
  if (n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

/** The API side of loadBalancer: the `spec.loadBalancer` schema and its cross-field rules. */
export const loadBalancerSchema: Pick<PolicyKind, 'schema' | 'check'> = { schema: LoadBalancerPolicyDto, check };
