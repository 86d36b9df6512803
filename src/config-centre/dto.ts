import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { Int, Str } from '../common/dto.js';
import { CONFIG_NAME, CONFIG_NAME_MESSAGE, CONFIG_NAMESPACE, CONFIG_NAMESPACE_MESSAGE } from '../registry/dto/config.dto.js';

const [NS, NS_MESSAGE, NAME_MESSAGE] = [CONFIG_NAMESPACE, CONFIG_NAMESPACE_MESSAGE, CONFIG_NAME_MESSAGE];
const QInt = (min: number, max: number) => [Type(() => Number), IsInt({ message: 'must be an integer' }), Min(min, { message: `must be >= ${min}` }), Max(max, { message: `must be <= ${max}` })];
const apply = (ds: PropertyDecorator[]): PropertyDecorator => (t, k) => ds.forEach((d) => d(t, k));

/** GET /api/v1/configs */
export class ConfigListQueryDto {
  @ApiPropertyOptional() @IsOptional() @IsString() @Matches(NS, { message: NS_MESSAGE }) namespace?: string;
  @ApiPropertyOptional({ description: 'needs namespace' }) @IsOptional() @IsString() @Matches(CONFIG_NAME, { message: NAME_MESSAGE }) group?: string;
  @ApiPropertyOptional({ description: 'over the configs\' own labels' }) @IsOptional() @IsString() @MaxLength(4096) labelSelector?: string;
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 1000, default: 100 }) @IsOptional() @apply(QInt(1, 1000)) limit?: number;
  @ApiPropertyOptional({ description: 'nextPageToken from the previous page' }) @IsOptional() @IsString() @MaxLength(512) pageToken?: string;
}

/** GET …/history */
export class HistoryQueryDto {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 1000, default: 100, description: 'newest first' }) @IsOptional() @apply(QInt(1, 1000)) limit?: number;
  @ApiPropertyOptional({ type: 'integer', description: 'revisions below this one (paging back)' }) @IsOptional() @apply(QInt(1, 2147483647)) before?: number;
}

/** GET …/diff */
export class DiffQueryDto {
  @ApiProperty({ type: 'integer', minimum: 1 }) @apply(QInt(1, 2147483647)) from!: number;
  @ApiPropertyOptional({ type: 'integer', minimum: 1, description: 'default: the current revision' }) @IsOptional() @apply(QInt(1, 2147483647)) to?: number;
}

/** POST …/rollback */
export class RollbackDto {
  @Int(1, 2147483647, { description: 'the revision whose format and content to restore (as a new revision; any gray release is dropped)' }) revision!: number;
}

/** POST …/ack */
export class AckDto {
  @Str({ min: 1, max: 256, description: 'who applied it' }) instanceId!: string;
  @Int(0, 2147483647, { description: 'the revision it applied (or failed to apply)' }) revision!: number;
  @Str({ optional: true, max: 1024, description: 'why it could not apply it' }) error?: string;
}

/** The answer to POST …/ack. */
export class AckResultDto {
  @ApiProperty({ description: 'always true: the acknowledgement was recorded' }) ok!: boolean;
}

/** GET /api/v1/configs/watch and /api/v1/configs/stream */
export class WatchQueryDto {
  @ApiProperty() @IsString({ message: 'is required' }) @Matches(NS, { message: NS_MESSAGE }) namespace!: string;
  @ApiProperty() @IsString({ message: 'is required' }) @Matches(CONFIG_NAME, { message: NAME_MESSAGE }) group!: string;
  @ApiPropertyOptional({ description: 'comma-separated config names; default: every config of the group' }) @IsOptional() @IsString() @MaxLength(65536) names?: string;
  @ApiPropertyOptional({ description: 'who is watching (a registered endpoint as service/name uses that endpoint\'s labels)' }) @IsOptional() @IsString() @MaxLength(256) instanceId?: string;
  @ApiPropertyOptional({ description: 'the instance\'s labels, e.g. env=gray,zone=a' }) @IsOptional() @IsString() @MaxLength(4096) labels?: string;
  @ApiPropertyOptional({ description: 'what the instance holds: name:revision,… (SSE: Last-Event-ID carries the same after a reconnect)' }) @IsOptional() @IsString() @MaxLength(65536) known?: string;
  @ApiPropertyOptional({ type: 'integer', minimum: 0, maximum: 120000, default: 30000, description: 'long poll: answer after this long when nothing changed' }) @IsOptional() @apply(QInt(0, 120000)) timeoutMs?: number;
}

/** One watching instance of a config. */
export class InstanceEntryDto {
  @ApiProperty() instanceId!: string;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } }) labels!: Record<string, string>;
  @ApiProperty({ enum: ['grpc', 'long-poll', 'sse'] }) transport!: string;
  @ApiProperty({ description: 'the replica serving it' }) replica!: string;
  @ApiPropertyOptional({ description: 'the revision last sent to it' }) delivered?: number;
  @ApiProperty({ description: 'what it was sent is the gray candidate' }) gray!: boolean;
  @ApiPropertyOptional({ description: 'the revision it acknowledged applying' }) applied?: number;
  @ApiPropertyOptional() appliedAt?: string;
  @ApiPropertyOptional({ description: 'why it could not apply the revision it was sent' }) error?: string;
  @ApiProperty() watching!: boolean;
  @ApiProperty() seenAt!: string;
}

export class InstancesDto {
  @ApiProperty({ type: [InstanceEntryDto] }) items!: InstanceEntryDto[];
  @ApiProperty({ description: 'instances counted by what they applied: current, gray, behind (older or unacknowledged), failed' })
  summary!: { current: number; gray: number; behind: number; failed: number };
}

export class ConfigUpdateDto {
  @ApiProperty() namespace!: string;
  @ApiProperty() group!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ description: 'the config version in which this content was written' }) revision!: number;
  @ApiProperty({ enum: ['yaml', 'json', 'properties', 'text', ''] }) format!: string;
  @ApiProperty() content!: string;
  @ApiProperty({ description: 'this instance gets the gray candidate' }) gray!: boolean;
  @ApiProperty({ description: 'the config is gone: drop it' }) deleted!: boolean;
}

export class WatchResultDto {
  @ApiProperty({ type: [ConfigUpdateDto], description: 'empty when the timeout passed with nothing new' }) updates!: ConfigUpdateDto[];
}

export class HistoryEntryDto {
  @ApiProperty() revision!: number;
  @ApiProperty({ enum: ['create', 'update', 'delete'] }) op!: string;
  @ApiProperty() actor!: string;
  @ApiProperty() at!: string;
  @ApiPropertyOptional() format?: string;
  @ApiPropertyOptional({ description: 'bytes of content' }) size?: number;
  @ApiPropertyOptional({ description: 'sha256 of content, hex' }) sha256?: string;
  @ApiPropertyOptional({ description: 'the gray release in this revision (target and candidate size)' }) gray?: object;
}

export class HistoryDto {
  @ApiProperty({ type: [HistoryEntryDto] }) items!: HistoryEntryDto[];
  @ApiPropertyOptional({ description: 'pass as before= for older revisions' }) nextBefore?: number;
}

export class DiffDto {
  @ApiProperty() from!: number;
  @ApiProperty() to!: number;
  @ApiProperty({ description: 'unified diff of the content' }) diff!: string;
  @ApiProperty() formatChanged!: boolean;
}
