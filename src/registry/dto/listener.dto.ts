import { ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsDefined, IsIP, IsObject, ValidateNested } from 'class-validator';
import { PROTOCOLS } from '../../model/resources.js';
import { DnsLabel, Int, OneOf, Str } from '../../common/dto.js';
import { PolicyRefs, resourceDto } from './resource.dto.js';

export class ListenerSpecDto {
  @Str({ min: 1, max: 128, description: 'Envoy node group (node.cluster) this listener is sent to', example: 'default' })
  group!: string;

  @ApiProperty({ example: '0.0.0.0' })
  @IsIP(undefined, { message: 'must be an IPv4 or IPv6 address' })
  address!: string;

  @Int(1, 65535, { example: 10000 }) port!: number;

  @OneOf(PROTOCOLS) protocol!: string;

  @IsArray({ message: 'must be an array' })
  @ArrayMaxSize(256, { message: 'must have at most 256 items' })
  @DnsLabel('names of Route resources served on this listener', true)
  routes!: string[];

  /** Connection-manager policies (tracing, accessLog) for this listener; they win over those of its routes. */
  @PolicyRefs() policies?: string[];
}

/** What an Envoy node group listens on. */
export const ListenerDto = resourceDto('Listener', ListenerSpecDto, 'What an Envoy node group listens on.');
