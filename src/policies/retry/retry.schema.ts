import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsIn, IsObject, IsOptional, ValidateNested } from 'class-validator';
import { Int } from '../../common/dto.js';
import type { FieldViolation } from '../../common/errors.js';
import type { PolicyKind } from '../policy-kind.js';

/** gRPC status names and HTTP conditions a retry may fire on. */
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
] as const;

export class BackoffDto {
  @Int(1, 3600000) baseMs!: number;
  @Int(1, 3600000, { optional: true }) maxMs?: number;
}

export class RetryDto {
  @Int(0, 10, { description: 'retries after the first attempt' }) attempts!: number;

  @ApiPropertyOptional({ enum: RETRY_ON, isArray: true })
  @IsOptional()
  @IsArray({ message: 'must be an array' })
  @ArrayMaxSize(RETRY_ON.length, { message: `must have at most ${RETRY_ON.length} items` })
  @IsIn(RETRY_ON as unknown as string[], { each: true, message: `each item must be one of: ${RETRY_ON.join(', ')}` })
  on?: string[];

  @Int(1, 3600000, { optional: true }) perTryTimeoutMs?: number;

  @ApiPropertyOptional({ type: BackoffDto })
  @IsOptional()
  @IsObject({ message: 'must be an object' })
  @ValidateNested()
  @Type(() => BackoffDto)
  backoff?: BackoffDto;
}


/** `spec.retry` of a retry policy; a route rule's inline `retry` takes the same settings and means the same. */
export class RetryPolicyDto extends RetryDto {}

/** Backoff ceiling must not be below its base (shared by route rules and retry policies). */
export function checkBackoff(retry: { backoff?: { baseMs: number; maxMs?: number } } | undefined, path: string): FieldViolation[] {
  const b = retry?.backoff;
  if (b?.maxMs !== undefined && b.maxMs < b.baseMs) return [{ field: `${path}.backoff.maxMs`, message: `must be >= backoff.baseMs (${b.baseMs})` }];
  return [];
}

/** The API side of retry: the `spec.retry` schema and its cross-field rules. */
export const retrySchema: Pick<PolicyKind, 'schema' | 'check'> = {
  schema: RetryPolicyDto,
  check: checkBackoff
};
