import { Bool, Int, Nested, Num, OneOf } from '../../common/dto.js';
import type { FieldViolation } from '../../common/errors.js';
import type { PolicyKind } from '../policy-kind.js';

/** gRPC status names an abort may return. */
export const GRPC_CODES = [
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
] as const;

/** Delay a share of requests. */
export class FaultDelayDto {
  @Int(1, 3600000, { optional: true, example: 200, description: 'fixed delay (leave out with headerControlled)' }) fixedMs?: number;
  @Num(0, 100, { example: 100, description: 'percent of requests delayed (up to 4 decimals)' }) percent!: number;
}

/** Fail a share of requests. */
export class FaultAbortDto {
  @Int(200, 599, { optional: true, example: 503, description: 'HTTP status to answer with' }) httpStatus?: number;
  @OneOf(GRPC_CODES, { optional: true, description: 'gRPC status to answer with' }) grpcStatus?: string;
  @Num(0, 100, { example: 30, description: 'percent of requests aborted (up to 4 decimals)' }) percent!: number;
}

/** `spec.faultInjection`: delays and aborts injected into calls, to test how clients cope (Envoy and gRPC). */
export class FaultInjectionPolicyDto {
  @Nested(FaultDelayDto) delay?: FaultDelayDto;
  @Nested(FaultAbortDto) abort?: FaultAbortDto;
  @Bool({ description: 'let x-envoy-fault-delay-request / x-envoy-fault-abort-request (and -grpc-request) headers choose the fault per request' })
  headerControlled?: boolean;
  @Int(1, 1000000, { optional: true, description: 'most faults active at once' }) maxActiveFaults?: number;
}

function check(f: FaultInjectionPolicyDto, path: string): FieldViolation[] {
  const out: FieldViolation[] = [];
  if (!f.delay && !f.abort) out.push({ field: path, message: 'must set delay or abort' });
  if (f.delay && f.delay.fixedMs === undefined && !f.headerControlled) out.push({ field: `${path}.delay.fixedMs`, message: 'is required unless headerControlled' });
  if (f.abort) {
    const set = (['httpStatus', 'grpcStatus'] as const).filter((k) => f.abort![k] !== undefined);
    if (set.length > 1 || (!set.length && !f.headerControlled)) out.push({ field: `${path}.abort`, message: 'set exactly one of httpStatus, grpcStatus (or neither, with headerControlled)' });
  }
  for (const k of ['delay', 'abort'] as const) {
    const p = f[k]?.percent;
    if (p !== undefined && Math.round(p * 10000) !== p * 10000) out.push({ field: `${path}.${k}.percent`, message: 'must have at most 4 decimals' });
  }
  return out;
}

/** The API side of faultInjection: the `spec.faultInjection` schema and its cross-field rules. */
export const faultInjectionSchema: Pick<PolicyKind, 'schema' | 'check'> = { schema: FaultInjectionPolicyDto, check };
