import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsDefined, IsIP, IsObject, IsOptional, ValidateNested } from 'class-validator';
import { HEALTH_STATES } from '../../model/resources.js';
import { DNS_LABEL, DnsLabel, Int, LabelMap, OneOf, Str } from '../../common/dto.js';
import { resourceDto } from './resource.dto.js';

export class LocalityDto {
  @Str({ optional: true, max: 128, example: 'r1' }) region?: string;
  @Str({ optional: true, max: 128, example: 'z1' }) zone?: string;
  @Str({ optional: true, max: 128 }) subZone?: string;
}

export class EndpointSpecDto {
  @ApiProperty({ example: '127.0.0.1', description: 'IPv4 or IPv6 address' })
  @IsIP(undefined, { message: 'must be an IPv4 or IPv6 address' })
  address!: string;

  @Int(1, 65535, { example: 50061 })
  port!: number;

  @Int(1, 128, { optional: true, description: 'load-balancing weight (default 1)' })
  weight?: number;

  @ApiPropertyOptional({ type: LocalityDto })
  @IsOptional()
  @IsObject({ message: 'must be an object' })
  @ValidateNested()
  @Type(() => LocalityDto)
  locality?: LocalityDto;

  @IsOptional()
  @LabelMap('labels that service subsets select on, e.g. {version: v2}')
  labels?: Record<string, string>;

  @OneOf(HEALTH_STATES, { optional: true, description: 'administrative health; default unknown (gets traffic)' })
  health?: string;

  @Int(1, 86400, { optional: true, description: 'heartbeat TTL: the endpoint expires unless renewed within this time' })
  ttlSeconds?: number;
}

/** One instance of a service. */
export class EndpointDto extends resourceDto('Endpoint', EndpointSpecDto, 'One instance of a service.') {
  // Documentation only (validation is inherited): an endpoint's name is never required in a body.
  @ApiPropertyOptional({ description: 'endpoint name, unique per service (generated on POST when absent, taken from the URL on PUT)', pattern: DNS_LABEL.source, maxLength: 63, example: 'echo-1a2b3c4d' })
  name!: string;

  @ApiPropertyOptional()
  @IsOptional()
  @DnsLabel('owning service (taken from the URL when absent)')
  service?: string;
}
