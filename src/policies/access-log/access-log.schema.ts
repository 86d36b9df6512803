import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsObject, IsOptional } from 'class-validator';
import { Int, OneOf, Str } from '../../common/dto.js';
import type { FieldViolation } from '../../common/errors.js';
import type { PolicyKind } from '../policy-kind.js';

/**
 * The JSON fields logged when `fields` is not given: one line per request
 * with what an operator looks for first (Envoy command operators).
 */
export const DEFAULT_FIELDS: Readonly<Record<string, string>> = {
  start_time: '%START_TIME%',
  method: '%REQ(:METHOD)%',
  path: '%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%',
  protocol: '%PROTOCOL%',
  response_code: '%RESPONSE_CODE%',
  grpc_status: '%GRPC_STATUS%',
  response_flags: '%RESPONSE_FLAGS%',
  bytes_received: '%BYTES_RECEIVED%',
  bytes_sent: '%BYTES_SENT%',
  duration_ms: '%DURATION%',
  upstream_host: '%UPSTREAM_HOST%',
  upstream_cluster: '%UPSTREAM_CLUSTER%',
  request_id: '%REQ(X-REQUEST-ID)%',
  authority: '%REQ(:AUTHORITY)%',
};

const MAX_FIELDS = 64;

/** `spec.accessLog`: one access log of an Envoy connection manager. */
export class AccessLogPolicyDto {
  @OneOf(['stdout', 'file'], { optional: true, description: "where lines go (default stdout: the Envoy process's standard output)" }) sink?: string;
  @Str({ optional: true, min: 1, max: 4096, description: 'file to append to (sink file only)', example: '/dev/stdout' }) path?: string;
  @OneOf(['json', 'text'], { optional: true, description: 'one JSON object per line (default), or a text line' }) format?: string;

  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string' }, description: 'JSON format only: field → Envoy command operator, e.g. {code: "%RESPONSE_CODE%"}; replaces the default set', example: { code: '%RESPONSE_CODE%' } })
  @IsOptional()
  @IsObject({ message: 'must be an object of field names and command operators' })
  fields?: Record<string, string>;

  @Str({ optional: true, min: 1, max: 4096, description: "text format only: the line, with command operators (default: Envoy's default format)" }) text?: string;
  @Int(100, 599, { optional: true, description: 'log only responses with a status code at least this (e.g. 500: errors only)' }) minStatus?: number;
}

/** The API side of accessLog: the `spec.accessLog` schema and its cross-field rules. */
export const accessLogSchema: Pick<PolicyKind, 'schema' | 'check'> = {
  schema: AccessLogPolicyDto,
  check(a: AccessLogPolicyDto, path): FieldViolation[] {
    const out: FieldViolation[] = [];
    const sink = a.sink ?? 'stdout';
    if (sink === 'file' && a.path === undefined) out.push({ field: `${path}.path`, message: 'is required for sink file' });
    if (sink === 'stdout' && a.path !== undefined) out.push({ field: `${path}.path`, message: 'applies only to sink file' });
    const format = a.format ?? 'json';
    if (format === 'json' && a.text !== undefined) out.push({ field: `${path}.text`, message: 'applies only to format text' });
    if (format === 'text' && a.fields !== undefined) out.push({ field: `${path}.fields`, message: 'applies only to format json' });
    if (a.fields && typeof a.fields === 'object' && !Array.isArray(a.fields)) {
      const entries = Object.entries(a.fields);
      if (!entries.length) out.push({ field: `${path}.fields`, message: 'must have at least 1 field (leave it out for the default set)' });
      if (entries.length > MAX_FIELDS) out.push({ field: `${path}.fields`, message: `must have at most ${MAX_FIELDS} fields` });
      for (const [k, v] of entries) {
        const at = `${path}.fields.${k}`;
        if (k.length > 128) out.push({ field: `${path}.fields`, message: `field name ${JSON.stringify(k.slice(0, 20))}… is longer than 128 characters` });
        if (typeof v !== 'string') out.push({ field: at, message: 'must be a string (a command operator such as %RESPONSE_CODE%)' });
        else if (!v.length || v.length > 1024) out.push({ field: at, message: 'must be 1 to 1024 characters' });
      }
    }
    return out;
  },
};
