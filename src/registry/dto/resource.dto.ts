import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, Equals, IsArray, IsDefined, IsObject, IsOptional, ValidateNested } from 'class-validator';
import { DnsLabel, Int, LabelMap, ServerOwned } from '../../common/dto.js';

/**
 * Fields shared by every resource body. `version`, when given, must equal the
 * stored version (like If-Match); the other server-owned fields are ignored so
 * that a GET result can be edited and sent back.
 */
export abstract class ResourceDto {
  abstract kind?: string;

  // Required in the OpenAPI document (POST and /apply need it; every answer has it), optional to the validator (PUT takes it from the URL).
  @IsOptional()
  @DnsLabel('resource name, unique per kind (on PUT, taken from the URL when absent)')
  name!: string;

  @IsOptional()
  @LabelMap()
  labels?: Record<string, string>;

  @Int(1, 2147483647, { optional: true, description: 'the version, set by the server and incremented on every change; on input, the expected current version (optimistic concurrency, like If-Match)' })
  version?: number;

  @ServerOwned({ type: 'string', format: 'date-time' }) createdAt?: unknown;
  @ServerOwned({ type: 'string', format: 'date-time' }) updatedAt?: unknown;
  @ServerOwned({ type: 'object', description: 'what the control plane observed, e.g. health, rollout progress, translation conditions' }) status?: unknown;
}

/** A resource DTO with its typed spec. */
export type ResourceDtoOf<S> = ResourceDto & { kind?: string; spec: S };

/**
 * The DTO class of one kind: the shared resource fields, `kind` (optional,
 * must match) and a required, validated `spec` of class `spec`.
 */
export function resourceDto<S extends object>(kind: string, spec: new () => S, description: string): new () => ResourceDtoOf<S> {
  class KindDto extends ResourceDto {
    kind?: string;
    spec!: S;
  }
  ApiPropertyOptional({ enum: [kind], default: kind })(KindDto.prototype, 'kind');
  IsOptional()(KindDto.prototype, 'kind');
  Equals(kind, { message: `must be ${kind}` })(KindDto.prototype, 'kind');
  applyDecorators(
    ApiProperty({ type: spec }),
    IsDefined({ message: 'is required' }),
    IsObject({ message: 'must be an object' }),
    ValidateNested(),
    Type(() => spec),
  )(KindDto.prototype, 'spec');
  // Swagger names schemas after classes: give each kind its own.
  Object.defineProperty(KindDto, 'name', { value: `${kind}Dto` });
  Object.defineProperty(KindDto, 'description', { value: description });
  return KindDto;
}

/** `spec.policies`: names of Policy resources attached here. */
export function PolicyRefs() {
  return applyDecorators(
    IsOptional(),
    IsArray({ message: 'must be an array' }),
    ArrayMaxSize(32, { message: 'must have at most 32 items' }),
    DnsLabel('names of Policy resources', true, false),
  );
}
