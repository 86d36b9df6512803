/** The audit query (validated) and the OpenAPI schema of its answer (documentation only). */
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { type Kind, KINDS } from '../model/resources.js';

const TYPES = ['write', 'auth_failure'];

export class AuditQueryDto {
  @ApiPropertyOptional({ description: 'an event id (events after it: nextSince of the previous page) or an RFC 3339 time (events at or after it)', example: '2026-12-02T00:00:00Z' })
  @IsOptional() @IsString() @MaxLength(64)
  since?: string;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 1000, default: 100 })
  @IsOptional() @Type(() => Number) @IsInt({ message: 'must be an integer' }) @Min(1, { message: 'must be >= 1' }) @Max(1000, { message: 'must be <= 1000' })
  limit?: number;

  @ApiPropertyOptional({ description: 'only events of this actor (exact match)' })
  @IsOptional() @IsString() @MaxLength(128)
  actor?: string;

  @ApiPropertyOptional({ enum: KINDS, description: 'only writes of this kind' })
  @IsOptional() @IsIn(KINDS as unknown as string[], { message: `must be one of: ${KINDS.join(', ')}` })
  kind?: Kind;

  @ApiPropertyOptional({ enum: TYPES, description: 'only writes, or only authentication failures' })
  @IsOptional() @IsIn(TYPES, { message: `must be one of: ${TYPES.join(', ')}` })
  type?: 'write' | 'auth_failure';
}

/** One audit event. */
export class AuditEventDto {
  @ApiProperty({ type: 'integer', description: 'increasing in the order stored' }) id!: number;
  @ApiProperty({ enum: TYPES }) type!: string;
  @ApiProperty({ format: 'date-time', description: 'when it happened (for a write: the change-log time)' }) at!: string;
  @ApiPropertyOptional({ description: 'writes: who wrote' }) actor?: string;
  @ApiPropertyOptional({ enum: KINDS }) kind?: string;
  @ApiPropertyOptional({ description: 'endpoints: the service' }) service?: string;
  @ApiPropertyOptional({ description: 'configs: the namespace' }) namespace?: string;
  @ApiPropertyOptional({ description: 'configs: the group' }) group?: string;
  @ApiPropertyOptional() name?: string;
  @ApiPropertyOptional({ enum: ['create', 'update', 'delete'] }) op?: string;
  @ApiPropertyOptional({ type: 'integer', description: 'the resource version written' }) version?: number;
  @ApiPropertyOptional({ type: 'integer', description: 'the store revision of the change' }) revision?: number;
  @ApiPropertyOptional({ description: 'X-Request-Id of the request behind it (absent for the rollout controller and other internal writers)' }) requestId?: string;
  @ApiPropertyOptional({ description: 'authentication failures: why' }) reason?: string;
  @ApiPropertyOptional({ description: 'authentication failures: the remote address' }) remote?: string;
  @ApiPropertyOptional({ description: 'authentication failures: the HTTP method or gRPC' }) method?: string;
  @ApiPropertyOptional({ description: 'authentication failures: the path or gRPC method' }) path?: string;
}

export class AuditPageDto {
  @ApiProperty({ type: [AuditEventDto], description: 'oldest first' }) items!: AuditEventDto[];
  @ApiPropertyOptional({ type: 'integer', description: 'pass as since to read on' }) nextSince?: number;
}
