import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import { IsBoolean, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';

const toBool = ({ value }: { value: unknown }) => (value === 'true' || value === '1' ? true : value === 'false' || value === '0' ? false : value);

export class ListQueryDto {
  @ApiPropertyOptional({ description: 'e.g. version=v2,tier!=db,canary,env in (a,b)' })
  @IsOptional() @IsString() @MaxLength(4096)
  labelSelector?: string;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 1000, default: 100 })
  @IsOptional() @Type(() => Number) @IsInt({ message: 'must be an integer' }) @Min(1, { message: 'must be >= 1' }) @Max(1000, { message: 'must be <= 1000' })
  limit?: number;

  @ApiPropertyOptional({ description: 'nextPageToken from the previous page' })
  @IsOptional() @IsString() @MaxLength(256)
  pageToken?: string;
}

export class DeleteQueryDto {
  @ApiPropertyOptional({ description: 'remove references to this resource instead of refusing with 409' })
  @IsOptional() @Transform(toBool) @IsBoolean({ message: 'must be true or false' })
  cascade?: boolean;
}

export class ApplyQueryDto {
  @ApiPropertyOptional({ description: 'validate and report without writing' })
  @IsOptional() @Transform(toBool) @IsBoolean({ message: 'must be true or false' })
  dryRun?: boolean;
}

export class ChangesQueryDto {
  @ApiPropertyOptional({ description: 'include each change\'s resource as written (null for deletes)' })
  @IsOptional() @Transform(toBool) @IsBoolean({ message: 'must be true or false' })
  withObjects?: boolean;

  @ApiPropertyOptional({ type: 'integer', minimum: 0, default: 0, description: 'return changes with a revision greater than this' })
  @IsOptional() @Type(() => Number) @IsInt({ message: 'must be an integer' }) @Min(0, { message: 'must be >= 0' })
  since?: number;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 1000, default: 100 })
  @IsOptional() @Type(() => Number) @IsInt({ message: 'must be an integer' }) @Min(1, { message: 'must be >= 1' }) @Max(1000, { message: 'must be <= 1000' })
  limit?: number;
}

export class PromoteQueryDto {
  @ApiPropertyOptional({ description: 'promote: straight to the end (100 % canary)' })
  @IsOptional() @Transform(toBool) @IsBoolean({ message: 'must be true or false' })
  full?: boolean;
}

export class HistoryQueryDto {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 1000, default: 100 })
  @IsOptional() @Type(() => Number) @IsInt({ message: 'must be an integer' }) @Min(1, { message: 'must be >= 1' }) @Max(1000, { message: 'must be <= 1000' })
  limit?: number;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, description: 'a store revision: only older entries (nextBefore of the previous page)' })
  @IsOptional() @Type(() => Number) @IsInt({ message: 'must be an integer' }) @Min(1, { message: 'must be >= 1' })
  before?: number;

  @ApiPropertyOptional({ description: 'FROM..TO, two versions (TO empty: the current one): answer the JSON patch and unified YAML diff between them instead of the list', example: '1..3' })
  @IsOptional() @IsString() @MaxLength(32)
  diff?: string;
}
