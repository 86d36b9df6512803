import { ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsIn, IsInt, IsOptional, Max, Min } from 'class-validator';
import { Bool, Int, Nested } from '../../common/dto.js';
import type { FieldViolation } from '../../common/errors.js';
import type { PolicyKind } from '../policy-kind.js';

/** gRPC status names (honoured by Envoy and gRPC clients) and HTTP conditions (Envoy only) a retry may fire on. */
export const RETRY_ON = [
  'cancelled',
  'deadline-exceeded',
  'internal',
  'resource-exhausted',
  'unavailable',
  '5xx',
  'gateway-error',
  'reset',
  'connect-failure',
  'retriable-4xx',
  'refused-stream',
  'retriable-status-codes',
] as const;

/** The retry conditions proxyless gRPC clients understand. */
export const GRPC_RETRY_ON = ['cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable'];

export class BackoffDto {
  @Int(1, 3600000) baseMs!: number;
  @Int(1, 3600000, { optional: true }) maxMs?: number;
}

/** Retry settings: a retry policy's `spec.retry`, and a route rule's inline `retry` (the same settings, the same meaning). */
export class RetryDto {
  @Int(0, 10, { description: 'retries after the first attempt' }) attempts!: number;

  @ApiPropertyOptional({ enum: RETRY_ON, isArray: true })
  @IsOptional()
  @IsArray({ message: 'must be an array' })
  @ArrayMaxSize(RETRY_ON.length, { message: `must have at most ${RETRY_ON.length} items` })
  @IsIn(RETRY_ON as unknown as string[], { each: true, message: `each item must be one of: ${RETRY_ON.join(', ')}` })
  on?: string[];

  @Int(1, 3600000, { optional: true, description: 'deadline of each attempt (Envoy only)' }) perTryTimeoutMs?: number;

  @Nested(BackoffDto) backoff?: BackoffDto;

  @ApiPropertyOptional({ type: [Number], description: 'HTTP statuses to retry, with on: [retriable-status-codes] (Envoy only)' })
  @IsOptional()
  @IsArray({ message: 'must be an array' })
  @ArrayMaxSize(32, { message: 'must have at most 32 items' })
  @IsInt({ each: true, message: 'each item must be an integer' })
  @Min(100, { each: true, message: 'each item must be >= 100' })
  @Max(599, { each: true, message: 'each item must be <= 599' })
  retriableStatusCodes?: number[];

  @Bool({ description: 'retry on another endpoint than the ones already tried (Envoy only)' }) hostReselection?: boolean;
}

export class RetryPolicyDto extends RetryDto {}

/** Rules across retry fields (shared by route rules and retry policies). */
export function checkRetry(retry: RetryDto | undefined, path: string): FieldViolation[] {
  const out: FieldViolation[] = [];
  const b = retry?.backoff;
  if (b?.maxMs !== undefined && b.maxMs < b.baseMs) out.push({ field: `${path}.backoff.maxMs`, message: `must be >= backoff.baseMs (${b.baseMs})` });
  if (retry?.retriableStatusCodes?.length && !retry.on?.includes('retriable-status-codes'))
    out.push({ field: `${path}.retriableStatusCodes`, message: 'needs retriable-status-codes in on' });
  if (retry?.on?.includes('retriable-status-codes') && !retry.retriableStatusCodes?.length)
    out.push({ field: `${path}.on`, message: 'retriable-status-codes needs retriableStatusCodes' });
  return out;
}

/** The API side of retry: the `spec.retry` schema and its cross-field rules. */
export const retrySchema: Pick<PolicyKind, 'schema' | 'check'> = { schema: RetryPolicyDto, check: checkRetry };
