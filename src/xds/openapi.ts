/** OpenAPI schemas of the xDS read API (proxies, config dumps) and of previews. Documentation only. */
import { ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';
import { KINDS } from '../model/resources.js';
import { ApplyResultDto } from '../registry/rest/openapi.js';
import { RollbackResultDto } from '../registry/rest/history.dto.js';

const XDS_TYPES = ['CDS', 'EDS', 'LDS', 'RDS'];

export class LeaderDto {
  @ApiProperty({ description: 'replica id of the leader' })
  id!: string;

  @ApiPropertyOptional({ format: 'date-time' })
  since?: string;
}

export class NackDto {
  @ApiPropertyOptional()
  version?: string;

  @ApiProperty()
  nonce!: string;

  @ApiProperty({ description: 'the error detail the client sent' })
  message!: string;

  @ApiProperty({ format: 'date-time' })
  at!: string;
}

/** Protocol state of one xDS type on one stream. */
export class TypeStatusDto {
  @ApiPropertyOptional() lastSentVersion?: string;
  @ApiPropertyOptional({ format: 'date-time' }) lastSentAt?: string;
  @ApiPropertyOptional() lastAckedVersion?: string;
  @ApiPropertyOptional({ format: 'date-time' }) lastAckedAt?: string;
  @ApiPropertyOptional({ type: NackDto, description: 'the last NACK, if any' }) lastNack?: NackDto;
  @ApiPropertyOptional({ description: 'sent and not yet ACKed or NACKed' }) pending?: boolean;
}

/** One connected xDS stream. */
export class ProxyDto {
  @ApiProperty({ description: 'node id' }) id!: string;
  @ApiProperty({ type: 'integer' }) streamId!: number;
  @ApiProperty({ description: 'node group: the Envoy cluster, or proxyless' }) group!: string;
  @ApiProperty({ enum: ['envoy', 'proxyless'] }) clientKind!: string;
  @ApiProperty() userAgent!: string;
  @ApiProperty({ enum: ['sotw', 'delta'] }) protocol!: string;
  @ApiPropertyOptional({ description: 'who opened the stream, with XDS_AUTH optional or required: a SPIFFE id or certificate CN, a token entry id, or anonymous' }) identity?: string;
  @ApiProperty({ format: 'date-time' }) connectedAt!: string;

  @ApiProperty({ type: 'object', additionalProperties: { $ref: getSchemaPath(TypeStatusDto) }, description: `per xDS type (${XDS_TYPES.join(', ')})` })
  types!: Record<string, TypeStatusDto>;
}

export class ProxyListDto {
  @ApiProperty({ description: 'the replica answering' }) replica!: string;
  @ApiProperty({ type: LeaderDto, nullable: true }) leader!: LeaderDto | null;
  @ApiProperty({ type: 'integer', description: 'store revision of the config being served (-1 before the first build)' }) revision!: number;
  @ApiProperty({ type: [ProxyDto], description: 'streams connected to this replica' }) items!: ProxyDto[];
}

/** A problem translating the registry into xDS. */
export class TranslationIssueDto {
  @ApiProperty({ enum: KINDS }) kind!: string;
  @ApiProperty() name!: string;
  @ApiPropertyOptional() service?: string;
  @ApiProperty({ enum: ['error', 'warning'] }) severity!: string;
  @ApiPropertyOptional({ description: 'machine-readable condition, e.g. NotRendered, NotEnforced, Panic' }) reason?: string;
  @ApiPropertyOptional() field?: string;
  @ApiProperty() message!: string;
  @ApiPropertyOptional({ description: 'node group the problem is specific to' }) group?: string;
}

export class SentConfigDto {
  @ApiPropertyOptional({ description: 'version last sent' }) version?: string;
  @ApiProperty({ type: 'array', items: { type: 'object', additionalProperties: true }, description: 'the resources as sent (protobuf JSON)' }) resources!: object[];
}

/** What one stream of a node was last sent. */
export class ProxyConfigDto {
  @ApiProperty() id!: string;
  @ApiProperty({ type: 'integer' }) streamId!: number;
  @ApiProperty({ description: 'node group key' }) group!: string;
  @ApiProperty({ type: [TranslationIssueDto], description: 'what this node group was not sent, and why' }) conditions!: TranslationIssueDto[];

  @ApiProperty({ type: 'object', additionalProperties: { $ref: getSchemaPath(SentConfigDto) }, description: `per xDS type (${XDS_TYPES.join(', ')})` })
  configs!: Record<string, SentConfigDto>;
}

/** What would change for one xDS type of one node group. */
export class TypeDiffDto {
  @ApiProperty({ type: [String] }) added!: string[];
  @ApiProperty({ type: [String] }) changed!: string[];
  @ApiProperty({ type: [String] }) removed!: string[];
}

export class RefusedResourceDto {
  @ApiProperty() group!: string;
  @ApiProperty({ enum: XDS_TYPES }) type!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ type: [String] }) violations!: string[];
}

/** The xDS part of a dry run's answer (documented once for apply previews and rollback previews). */
function documentXdsPreview(cls: Function, issues: string): void {
  ApiProperty({
    type: 'object',
    additionalProperties: { type: 'object', properties: Object.fromEntries(XDS_TYPES.map((t) => [t, { $ref: getSchemaPath(TypeDiffDto) }])), additionalProperties: false },
    description: 'per node group, then per xDS type; groups and types with no change are left out',
  })(cls.prototype, 'xds');
  ApiProperty({ type: [RefusedResourceDto], description: 'resources Envoy\'s rules would refuse (they would not be sent)' })(cls.prototype, 'refused');
  ApiProperty({ type: [TranslationIssueDto], description: issues })(cls.prototype, 'issues');
}

/** The dry run of an apply, as what proxies would be sent. */
export class PreviewResultDto extends ApplyResultDto {
  xds!: Record<string, Record<string, TypeDiffDto>>;
  refused!: RefusedResourceDto[];
  issues!: TranslationIssueDto[];
}
documentXdsPreview(PreviewResultDto, 'translation problems the candidate has that the current state has not');

/** A rollback's dry run, as what proxies would be sent. */
export class RollbackPreviewDto extends RollbackResultDto {
  xds!: Record<string, Record<string, TypeDiffDto>>;
  refused!: RefusedResourceDto[];
  issues!: TranslationIssueDto[];
}
documentXdsPreview(RollbackPreviewDto, 'translation problems the rolled-back state has that the current state has not');
