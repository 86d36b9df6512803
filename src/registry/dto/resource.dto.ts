import { ApiPropertyOptional } from '@nestjs/swagger';
import { Equals, IsOptional } from 'class-validator';
import { DnsLabel, Int, LabelMap, ServerOwned } from './common.js';

/**
 * Fields shared by every resource body. `version`, when given, must equal the
 * stored version (like If-Match); the other server-owned fields are ignored so
 * that a GET result can be edited and sent back.
 */
export abstract class ResourceDto {
  abstract kind?: string;

  @IsOptional()
  @DnsLabel('resource name, unique per kind (taken from the URL when absent)')
  name!: string;

  @IsOptional()
  @LabelMap()
  labels?: Record<string, string>;

  @Int(1, 2147483647, { optional: true, description: 'expected current version (optimistic concurrency)' })
  version?: number;

  @ServerOwned() createdAt?: unknown;
  @ServerOwned() updatedAt?: unknown;
  @ServerOwned() status?: unknown;
}

/** `kind`, optional in kind-specific endpoints, must match when present. */
export function KindField(kind: string) {
  return (target: object, key: string) => {
    ApiPropertyOptional({ enum: [kind], default: kind })(target, key);
    IsOptional()(target, key);
    Equals(kind, { message: `must be ${kind}` })(target, key);
  };
}
