import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { Equals, ValidateBy, IsDefined, IsObject, IsOptional, IsString, Matches, MaxLength, ValidateNested } from 'class-validator';
import { DnsLabel, Int, LabelMap, Nested, OneOf, ServerOwned } from '../../common/dto.js';
import { CONFIG_FORMATS } from '../../model/resources.js';

/** Config names and groups: letters, digits, '.', '_' and '-' (Nacos dataIds such as order-service.yaml). */
export const CONFIG_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const CONFIG_NAME_MESSAGE = 'must be 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit';
const NAME_MESSAGE = CONFIG_NAME_MESSAGE;
/** Config namespaces: DNS-1123 labels of at most 63 characters. */
export const CONFIG_NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
export const CONFIG_NAMESPACE_MESSAGE = 'must be a DNS-1123 label (lower-case letters, digits and "-", starting and ending with a letter or digit)';

export class GrayTargetDto {
  @ApiPropertyOptional({
    oneOf: [{ type: 'string', maxLength: 4096 }, { type: 'object', additionalProperties: { type: 'string' } }],
    description: 'instances whose labels match: a selector (env=gray,zone in (a,b)) or a map of labels that must all be equal ({env: gray})',
  })
  @IsOptional()
  @ValidateBy({
    name: 'selectorOrMap',
    validator: {
      validate: (v: unknown) =>
        (typeof v === 'string' && v.length <= 4096) ||
        (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length <= 64 && Object.values(v).every((x) => typeof x === 'string')),
      defaultMessage: () => 'must be a label selector string (at most 4096 characters) or a map of label values',
    },
  })
  labels?: string | Record<string, string>;
  @Int(0, 100, { optional: true, description: 'share of instances, picked by a stable hash of the instance id' }) percent?: number;
}

export class ConfigGrayDto {
  @ApiProperty({ description: 'the candidate content' })
  @IsString({ message: 'must be a string' })
  content!: string;

  @ApiProperty({ type: GrayTargetDto })
  @IsDefined({ message: 'is required' })
  @IsObject({ message: 'must be an object' })
  @ValidateNested()
  @Type(() => GrayTargetDto)
  target!: GrayTargetDto;
}

export class ConfigSpecDto {
  @OneOf(CONFIG_FORMATS, { description: 'the content is checked against it on every write' }) format!: string;

  @ApiProperty({ description: 'up to 1 MiB' })
  @IsString({ message: 'must be a string' })
  content!: string;

  @Nested(ConfigGrayDto, { description: 'a gray release: candidate content for the instances its target picks' }) gray?: ConfigGrayDto;
}

/** Application configuration, identified by namespace, group and name. */
export class ConfigDto {
  @ApiPropertyOptional({ enum: ['Config'], default: 'Config' }) @IsOptional() @Equals('Config', { message: 'must be Config' }) kind?: string;

  @IsOptional() @DnsLabel('namespace: environment isolation (taken from the URL when absent)', false, false) namespace?: string;

  @ApiPropertyOptional({ example: 'DEFAULT_GROUP' })
  @IsOptional()
  @IsString({ message: 'must be a string' })
  @MaxLength(128, { message: 'must be at most 128 characters' })
  @Matches(CONFIG_NAME, { message: NAME_MESSAGE })
  group?: string;

  @ApiPropertyOptional({ example: 'order-service.yaml' })
  @IsOptional()
  @IsString({ message: 'must be a string' })
  @MaxLength(128, { message: 'must be at most 128 characters' })
  @Matches(CONFIG_NAME, { message: NAME_MESSAGE })
  name!: string;

  @IsOptional() @LabelMap() labels?: Record<string, string>;
  @Int(1, 2147483647, { optional: true, description: 'expected current version (optimistic concurrency)' }) version?: number;
  @ServerOwned({ type: 'string', format: 'date-time' }) createdAt?: unknown;
  @ServerOwned({ type: 'string', format: 'date-time' }) updatedAt?: unknown;
  @ServerOwned({ type: 'object', description: 'revisions: the revision of the current content (and of the gray candidate while a gray release runs)' }) status?: unknown;

  @ApiProperty({ type: ConfigSpecDto })
  @IsDefined({ message: 'is required' })
  @IsObject({ message: 'must be an object' })
  @ValidateNested()
  @Type(() => ConfigSpecDto)
  spec!: ConfigSpecDto;
}
