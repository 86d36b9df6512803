/**
 * The rollback request body (validated) and the OpenAPI schemas of the
 * history and rollback answers (documentation only).
 */
import { applyDecorators } from '@nestjs/common';
import { ApiExtraModels, ApiOkResponse, ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsBoolean, IsIn, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { ResourceRefDto } from '../../common/openapi.js';
import { type Kind, KINDS } from '../../model/resources.js';

/** POST /api/v1/rollback. */
export class RegistryRollbackDto {
  @ApiProperty({ type: 'integer', minimum: 0, description: 'the store revision to go back to (a revision from /changes or a history entry); 0 is the empty registry' })
  @IsInt({ message: 'must be an integer' }) @Min(0, { message: 'must be >= 0' }) @Max(Number.MAX_SAFE_INTEGER, { message: 'is too large' })
  toRevision!: number;

  @ApiPropertyOptional({ type: [String], enum: KINDS, description: 'only resources of these kinds (default: every kind)' })
  @IsOptional() @IsArray({ message: 'must be an array' }) @ArrayMaxSize(KINDS.length) @IsIn(KINDS as unknown as string[], { each: true, message: `each item must be one of: ${KINDS.join(', ')}` })
  kinds?: Kind[];

  @ApiPropertyOptional({ type: [String], description: 'only resources of these names: the name, or service/name for an endpoint, namespace/group/name for a config' })
  @IsOptional() @IsArray({ message: 'must be an array' }) @ArrayMaxSize(1000) @IsString({ each: true, message: 'each item must be a string' }) @MaxLength(400, { each: true, message: 'each item must be at most 400 characters' })
  names?: string[];

  @ApiPropertyOptional({ description: 'check and report what would change, writing nothing' })
  @IsOptional() @IsBoolean({ message: 'must be a boolean' })
  dryRun?: boolean;
}

/** One resource in a rollback's answer. */
export class RollbackItemDto extends ResourceRefDto {
  @ApiProperty({ enum: ['restored', 'recreated', 'deleted', 'unchanged'], description: 'restored: put back as it was; recreated: deleted since, created again; deleted: did not exist at the revision; unchanged: changed since but back to the same content' })
  result!: string;

  @ApiPropertyOptional({ type: 'integer', description: 'its version before the rollback (absent when it did not exist)' })
  fromVersion?: number;
}

/** The answer to a rollback. */
export class RollbackResultDto {
  @ApiProperty({ description: 'true when nothing was written' })
  dryRun!: boolean;

  @ApiProperty({ type: 'integer' })
  toRevision!: number;

  @ApiProperty({ type: 'integer', description: 'the store revision after the rollback (the head; unchanged by a dry run)' })
  revision!: number;

  @ApiProperty({ type: [RollbackItemDto], description: 'every selected resource changed after toRevision, in the order written: deletions (dependents first), then restorations (dependencies first)' })
  results!: RollbackItemDto[];
}

/** One revision of one resource. */
export class RevisionEntryDto {
  @ApiProperty({ type: 'integer', description: 'the resource version the change wrote (for a delete, one past the last)' })
  version!: number;

  @ApiProperty({ type: 'integer', description: 'the store revision of the change' })
  revision!: number;

  @ApiProperty({ enum: ['create', 'update', 'delete'] })
  op!: string;

  @ApiProperty({ description: 'who made the change' })
  actor!: string;

  @ApiProperty({ format: 'date-time' })
  at!: string;
}

/** A page of a resource's history, newest first. */
export class RevisionPageDto {
  @ApiProperty({ type: [RevisionEntryDto], description: 'newest first' })
  items!: RevisionEntryDto[];

  @ApiPropertyOptional({ type: 'integer', description: 'present when there are older entries: pass it as before' })
  nextBefore?: number;
}

/** One RFC 6902 operation. */
export class JsonPatchOpDto {
  @ApiProperty({ enum: ['add', 'remove', 'replace'] })
  op!: string;

  @ApiProperty({ description: 'JSON pointer (RFC 6901) into the resource document', example: '/spec/rules/1/backends/0/weight' })
  path!: string;

  @ApiPropertyOptional({ description: 'the new value (add, replace)', nullable: true, oneOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }, { type: 'object' }, { type: 'array', items: {} }] })
  value?: unknown;
}

/** The difference between two versions of a resource (?diff=FROM..TO). */
export class RevisionDiffDto {
  @ApiProperty({ type: 'integer' })
  from!: number;

  @ApiProperty({ type: 'integer' })
  to!: number;

  @ApiProperty({ type: [JsonPatchOpDto], description: 'RFC 6902 JSON patch from the FROM document to the TO document (server-owned fields left out)' })
  patch!: JsonPatchOpDto[];

  @ApiProperty({ description: 'unified diff of the two documents as YAML' })
  diff!: string;
}

/** The answer of GET …/history: a page of revisions, or with ?diff the difference. */
export function ApiHistoryResponse(kind: string): MethodDecorator {
  return applyDecorators(
    ApiExtraModels(RevisionPageDto, RevisionDiffDto),
    ApiOkResponse({
      description: `the ${kind}'s revisions, newest first; with diff=FROM..TO, the JSON patch and unified YAML diff between two versions`,
      schema: { oneOf: [{ $ref: getSchemaPath(RevisionPageDto) }, { $ref: getSchemaPath(RevisionDiffDto) }] },
    }),
  );
}
