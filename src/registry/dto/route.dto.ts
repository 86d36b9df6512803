import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsDefined,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  ValidateNested,
} from 'class-validator';
import { DnsLabel, Int, OneOf, Str } from '../../common/dto.js';
import { RetryDto } from '../../policies/retry/retry.schema.js';
import { PolicyRefs, resourceDto } from './resource.dto.js';

const HEADER_NAME = /^:?[0-9a-zA-Z!#$%&'*+\-.^_|~`]+$/;
const HOST = /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*(:[0-9]{1,5})?$|^\*$/;

export class HeaderMatchDto {
  @ApiProperty({ example: 'x-canary' })
  @IsString({ message: 'must be a string' })
  @MaxLength(256, { message: 'must be at most 256 characters' })
  @Matches(HEADER_NAME, { message: 'must be a valid HTTP header name' })
  name!: string;

  @Str({ optional: true, max: 1024 }) exact?: string;
  @Str({ optional: true, min: 1, max: 1024 }) prefix?: string;
  @Str({ optional: true, min: 1, max: 1024, description: 'RE2 regular expression, whole-value match' }) regex?: string;

  @ApiPropertyOptional() @IsOptional() @IsBoolean({ message: 'must be a boolean' }) present?: boolean;
  @ApiPropertyOptional() @IsOptional() @IsBoolean({ message: 'must be a boolean' }) invert?: boolean;
}

export class RouteMatchDto {
  @Str({ optional: true, min: 1, max: 1024, example: '/' })
  @Matches(/^\//, { message: 'must start with /' })
  pathPrefix?: string;

  @Str({ optional: true, min: 1, max: 1024 })
  @Matches(/^\//, { message: 'must start with /' })
  path?: string;

  @Str({ optional: true, min: 1, max: 1024, description: 'RE2 regular expression matched against the whole path' })
  regex?: string;

  @ApiPropertyOptional({ type: [HeaderMatchDto] })
  @IsOptional()
  @IsArray({ message: 'must be an array' })
  @ArrayMaxSize(32, { message: 'must have at most 32 items' })
  @ValidateNested({ each: true })
  @Type(() => HeaderMatchDto)
  headers?: HeaderMatchDto[];
}

export class BackendDto {
  @DnsLabel('service name') service!: string;
  @IsOptional() @DnsLabel('subset of that service', false, false) subset?: string;
  @Int(0, 1000000, { description: 'relative weight', example: 90 }) weight!: number;
}

export class RouteRuleDto {
  @IsOptional() @DnsLabel('rule name, unique in the route', false, false) name?: string;

  @ApiPropertyOptional({ type: RouteMatchDto, description: 'absent = match everything (prefix /)' })
  @IsOptional()
  @IsObject({ message: 'must be an object' })
  @ValidateNested()
  @Type(() => RouteMatchDto)
  match?: RouteMatchDto;

  @ApiProperty({ type: [BackendDto] })
  @IsArray({ message: 'must be an array' })
  @ArrayMinSize(1, { message: 'must have at least 1 item' })
  @ArrayMaxSize(64, { message: 'must have at most 64 items' })
  @ValidateNested({ each: true })
  @Type(() => BackendDto)
  backends!: BackendDto[];

  @Int(1, 3600000, { optional: true, description: 'request timeout' }) timeoutMs?: number;

  @ApiPropertyOptional({ type: RetryDto })
  @IsOptional()
  @IsObject({ message: 'must be an object' })
  @ValidateNested()
  @Type(() => RetryDto)
  retry?: RetryDto;
}

export class RouteSpecDto {
  @ApiProperty({ type: [String], example: ['echo'], description: 'host names (authority) this route serves' })
  @IsArray({ message: 'must be an array' })
  @ArrayMinSize(1, { message: 'must have at least 1 item' })
  @ArrayMaxSize(64, { message: 'must have at most 64 items' })
  @IsString({ each: true, message: 'each item must be a string' })
  @MaxLength(253, { each: true, message: 'each item must be at most 253 characters' })
  @Matches(HOST, { each: true, message: 'each item must be a lower-case host name, optionally with :port or a leading *.' })
  hosts!: string[];

  @ApiProperty({ type: [RouteRuleDto] })
  @IsArray({ message: 'must be an array' })
  @ArrayMinSize(1, { message: 'must have at least 1 item' })
  @ArrayMaxSize(256, { message: 'must have at most 256 items' })
  @ValidateNested({ each: true })
  @Type(() => RouteRuleDto)
  rules!: RouteRuleDto[];

  @PolicyRefs() policies?: string[];
}

/** Ordered routing rules for a set of hosts; the first matching rule wins. */
export const RouteDto = resourceDto('Route', RouteSpecDto, 'Ordered routing rules for a set of hosts; the first matching rule wins.');
