import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsOptional, Matches, ValidateNested } from 'class-validator';
import type { FieldViolation } from '../../common/errors.js';
import { Int, OneOf, Str } from '../../common/dto.js';
import type { PolicyKind } from '../policy-kind.js';

/** Half-open range of HTTP status codes, e.g. {start: 200, end: 300}. */
export class StatusRangeDto {
  @Int(100, 599) start!: number;
  @Int(101, 600) end!: number;
}

/** No NUL, CR or LF: the path and host go into the probe's request line and Host header (Envoy's HTTP_HEADER_VALUE rule refuses them). */
const HEADER_VALUE = /^[^\0\r\n]*$/;
const NO_CONTROL = { message: 'must not contain NUL, CR or LF' };

/** `spec.healthCheck`: active probing of a service's endpoints. */
export class HealthCheckPolicyDto {
  @OneOf(['http', 'tcp', 'grpc']) protocol!: string;
  @Int(100, 3600000, { example: 1000 }) intervalMs!: number;
  @Int(10, 600000, { example: 500 }) timeoutMs!: number;
  @Int(0, 600000, { optional: true, description: 'random extra delay added to each interval' }) jitterMs?: number;
  @Int(1, 100, { optional: true, example: 2 }) healthyThreshold?: number;
  @Int(1, 100, { optional: true, example: 2 }) unhealthyThreshold?: number;
  @OneOf(['controlPlane', 'envoy', 'both'], { optional: true, description: 'who runs the probe (default controlPlane)' }) runBy?: string;
  @OneOf(['unknown', 'unhealthy'], { optional: true, description: 'state of new endpoints until the first result: unknown gets traffic' })
  initialState?: string;

  // http
  @Str({ optional: true, min: 1, max: 1024, example: '/healthz' }) @Matches(HEADER_VALUE, NO_CONTROL) path?: string;
  @OneOf(['GET', 'HEAD', 'POST', 'PUT', 'OPTIONS'], { optional: true }) method?: string;
  @Str({ optional: true, min: 1, max: 253 }) @Matches(HEADER_VALUE, NO_CONTROL) host?: string;
  @Str({ optional: true, min: 1, max: 1024 }) expectBody?: string;

  @ApiPropertyOptional({ type: [StatusRangeDto], description: 'default [{start: 200, end: 400}]' })
  @IsOptional()
  @IsArray({ message: 'must be an array' })
  @ArrayMinSize(1, { message: 'must have at least 1 item' })
  @ArrayMaxSize(16, { message: 'must have at most 16 items' })
  @ValidateNested({ each: true })
  @Type(() => StatusRangeDto)
  expectedStatuses?: StatusRangeDto[];

  // tcp
  @Str({ optional: true, min: 1, max: 4096, description: 'tcp: bytes to send (UTF-8)' }) send?: string;
  @Str({ optional: true, min: 1, max: 4096, description: 'tcp: bytes expected back (UTF-8)' }) expect?: string;

  // grpc
  @Str({ optional: true, max: 256, description: 'grpc: service name for grpc.health.v1.Health/Check' }) grpcService?: string;
}

const ONLY: Record<string, string[]> = {
  http: ['path', 'method', 'host', 'expectBody', 'expectedStatuses'],
  tcp: ['send', 'expect'],
  grpc: ['grpcService'],
};

function check(h: HealthCheckPolicyDto, path: string): FieldViolation[] {
  const out: FieldViolation[] = [];
  if (h.timeoutMs > h.intervalMs) out.push({ field: `${path}.timeoutMs`, message: `must be <= intervalMs (${h.intervalMs})` });
  for (const [proto, fields] of Object.entries(ONLY)) {
    if (proto === h.protocol) continue;
    for (const f of fields)
      if ((h as any)[f] !== undefined) out.push({ field: `${path}.${f}`, message: `only applies to protocol ${proto}` });
  }
  if (h.path !== undefined && !h.path.startsWith('/')) out.push({ field: `${path}.path`, message: 'must start with /' });
  h.expectedStatuses?.forEach((r, i) => {
    if (r.end <= r.start) out.push({ field: `${path}.expectedStatuses[${i}].end`, message: `must be > start (${r.start})` });
  });
  return out;
}

/** The API side of healthCheck: the `spec.healthCheck` schema and its cross-field rules. */
export const healthCheckSchema: Pick<PolicyKind, 'schema' | 'check'> = {
  schema: HealthCheckPolicyDto,
  check
};
