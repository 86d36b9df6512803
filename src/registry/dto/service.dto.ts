import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsDefined, IsOptional, ValidateNested } from 'class-validator';
import { PROTOCOLS } from '../../model/resources.js';
import { DnsLabel, Int, LabelMap, OneOf } from '../../common/dto.js';
import { PolicyRefs, resourceDto } from './resource.dto.js';

/** A named group of a service's endpoints, selected by endpoint labels. */
export class SubsetDto {
  @DnsLabel('subset name, referenced by route backends')
  name!: string;

  @IsDefined({ message: 'is required' })
  @LabelMap('endpoint labels the subset selects (all must match)')
  labels!: Record<string, string>;
}

export class ServiceSpecDto {
  @OneOf(PROTOCOLS)
  protocol!: string;

  @Int(1, 65535, { description: 'default port of the service', example: 50051 })
  port!: number;

  @Int(1, 600000, { optional: true, description: 'upstream connect timeout', example: 1000 })
  connectTimeoutMs?: number;

  @ApiPropertyOptional({ type: [SubsetDto] })
  @IsOptional()
  @IsArray({ message: 'must be an array' })
  @ArrayMaxSize(64, { message: 'must have at most 64 items' })
  @ValidateNested({ each: true })
  @Type(() => SubsetDto)
  subsets?: SubsetDto[];

  @PolicyRefs() policies?: string[];
}

/** A logical service: what route backends point at. */
export const ServiceDto = resourceDto('Service', ServiceSpecDto, 'A logical service: what route backends point at.');

