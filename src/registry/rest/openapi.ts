/**
 * OpenAPI schemas of the registry's REST answers (list pages, delete, apply
 * and change-log results, heartbeats) and of its request bodies that are not
 * a DTO (merge patches, apply documents). Documentation only.
 */
import type { Type } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional, getSchemaPath, type ApiBodyOptions } from '@nestjs/swagger';
import { type MediaTypeDoc, ResourceRefDto } from '../../common/openapi.js';
import { KINDS, type Kind } from '../../model/resources.js';
import { DTO_BY_KIND, type ResourceDto } from '../dto/index.js';

/** Every resource DTO, for schemas that take any kind. */
export const RESOURCE_DTOS: Type<ResourceDto>[] = KINDS.map((k) => DTO_BY_KIND[k]);
const anyResource = () => ({ oneOf: RESOURCE_DTOS.map((d) => ({ $ref: getSchemaPath(d) })) });

/** The page class of a kind: `{items, nextPageToken}`, named `<Kind>ListDto`. */
export function resourceListDto(kind: Kind, dto: Type<ResourceDto>): Type<unknown> {
  class ListDto {
    items!: ResourceDto[];
    nextPageToken?: string;
  }
  ApiProperty({ type: [dto], description: `${kind} resources, by name` })(ListDto.prototype, 'items');
  ApiPropertyOptional({ type: String, description: 'present when there are more: pass it as pageToken to get the next page' })(ListDto.prototype, 'nextPageToken');
  Object.defineProperty(ListDto, 'name', { value: `${kind}ListDto` });
  return ListDto;
}

/** What a DELETE removed, and what it changed to drop references (cascade). */
export class DeleteResultDto {
  @ApiProperty({ type: [ResourceRefDto], description: 'the resource, and what went with it (a Service\'s endpoints; with cascade, routes left with no rules)' })
  deleted!: ResourceRefDto[];

  @ApiProperty({ type: [ResourceRefDto], description: 'resources changed to drop their references to it (cascade=true)' })
  updated!: ResourceRefDto[];
}

export class ApplyResultItemDto extends ResourceRefDto {
  @ApiProperty({ enum: ['created', 'updated', 'unchanged'] })
  result!: string;
}

/** The outcome of an apply: one entry per document, in the order sent. */
export class ApplyResultDto {
  @ApiProperty({ description: 'true when nothing was written (?dryRun=true)' })
  dryRun!: boolean;

  @ApiProperty({ type: [ApplyResultItemDto], description: 'one entry per document, in the order sent' })
  results!: ApplyResultItemDto[];
}

/** One entry of the change log. */
export class ChangeDto {
  @ApiProperty({ type: 'integer', description: 'store revision of the change' })
  revision!: number;

  @ApiProperty({ enum: KINDS })
  kind!: string;

  @ApiPropertyOptional({ description: 'owning service (endpoints only)' })
  service?: string;

  @ApiPropertyOptional({ description: 'the config\'s namespace (configs only)' })
  namespace?: string;

  @ApiPropertyOptional({ description: 'the config\'s group (configs only)' })
  group?: string;

  @ApiProperty()
  name!: string;

  @ApiProperty({ type: 'integer', description: 'the resource version this change wrote (the last one, for deletes)' })
  version!: number;

  @ApiProperty({ enum: ['create', 'update', 'delete'] })
  op!: string;

  @ApiProperty({ description: 'who wrote it: the authenticated identity (token:<name>, jwt:<sub>); with AUTH_MODE=none, X-Switchyard-Actor (rollout/<name> for the rollout controller)' })
  actor!: string;

  @ApiPropertyOptional({ description: 'X-Switchyard-Actor of an authenticated write: what the caller said about itself, not proven' })
  comment?: string;

  @ApiProperty({ format: 'date-time' })
  at!: string;

  @ApiPropertyOptional({ ...anyResource(), nullable: true, description: 'only with withObjects=true: the resource as written, null for deletes' })
  object?: ResourceDto | null;
}

export class ChangesDto {
  @ApiProperty({ type: 'integer', description: 'the current store revision (the head)' })
  revision!: number;

  @ApiProperty({ type: 'integer', description: 'pass this as since to read on: the last revision returned, or the head when none was' })
  nextSince!: number;

  @ApiProperty({ type: [ChangeDto], description: 'oldest first' })
  changes!: ChangeDto[];
}

/** The answer to a heartbeat. */
export class HeartbeatDto {
  @ApiProperty()
  service!: string;

  @ApiProperty()
  name!: string;

  @ApiProperty({ type: 'integer', description: 'seconds the endpoint lives unless renewed again' })
  ttlSeconds!: number;
}

/** A JSON merge patch (RFC 7396) body, for @ApiBody. */
export function mergePatchBody(kind: Kind): ApiBodyOptions {
  return {
    required: true,
    description: `JSON merge patch (RFC 7396) of the ${kind}: the fields to set; null removes a field. kind, name${kind === 'Endpoint' ? ' and service' : ''} cannot change; version, when given, must be the current one.`,
    schema: {
      type: 'object',
      additionalProperties: true,
      properties: {
        labels: { type: 'object', additionalProperties: { type: 'string', nullable: true }, description: 'labels to set (null removes one)' },
        spec: { type: 'object', additionalProperties: true, description: 'spec fields to set, merged recursively; arrays are replaced whole' },
        version: { type: 'integer', description: 'expected current version' },
      },
      example: kind === 'Endpoint' ? { spec: { health: 'draining' } } : { labels: { team: 'edge' } },
    },
  };
}

/** The body of /apply and /preview, per media type. */
export const APPLY_BODY: { description: string; content: Record<string, MediaTypeDoc> } = {
  description: 'The resources to create or update, each with its kind: a multi-document YAML stream, a JSON array, {"resources": [...]}, or one resource',
  content: {
    'application/yaml': {
      schema: { type: 'string', description: 'YAML documents separated by ---, each a resource (a document may also be a list of them)' },
      example: 'kind: Service\nname: echo\nspec: {protocol: grpc, port: 50051}\n---\nkind: Route\nname: echo\nspec:\n  hosts: [echo]\n  rules: [{backends: [{service: echo, weight: 1}]}]\n',
    },
    'application/json': {
      schema: {
        oneOf: [
          { type: 'array', items: anyResource(), description: 'the resources' },
          { type: 'object', required: ['resources'], properties: { resources: { type: 'array', items: anyResource() } } },
          anyResource(),
        ],
      },
      example: { resources: [{ kind: 'Service', name: 'echo', spec: { protocol: 'grpc', port: 50051 } }] },
    },
  },
};
