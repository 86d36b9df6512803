import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsDefined, IsObject, IsOptional, Matches, ValidateNested } from 'class-validator';
import { Bool, DnsLabel, Int, Num, Str } from '../../common/dto.js';
import type { FieldViolation } from '../../common/errors.js';
import type { PolicyKind } from '../policy-kind.js';

/** Header names Envoy accepts in a custom tag (RFC 7230 token characters). */
const HEADER_NAME = /^[0-9a-zA-Z!#$%&'*+\-.^_|~`]+$/;

/** Where spans go: the endpoints of a Switchyard Service (an OTLP/gRPC collector), sent to Envoy as its cluster. */
export class TraceCollectorDto {
  @DnsLabel('Service whose endpoints receive OTLP/gRPC spans (its protocol must be grpc)') service!: string;
  @IsOptional() @DnsLabel('one subset of that Service', false, false) subset?: string;
  @Int(1, 60000, { optional: true, description: 'export call timeout' }) timeoutMs?: number;
}

/** One custom span tag: a literal value, or a request header's value. */
export class TraceTagDto {
  @Str({ min: 1, max: 128, example: 'environment' }) tag!: string;
  @Str({ optional: true, min: 1, max: 1024, description: 'a fixed value' }) literal?: string;
  @Str({ optional: true, min: 1, max: 128, description: 'name of the request header whose value is the tag' })
  @Matches(HEADER_NAME, { message: 'must be an HTTP header name' })
  header?: string;
  @Str({ optional: true, max: 1024, description: 'value when the header is absent' }) default?: string;
}

/** `spec.tracing`: OpenTelemetry tracing in an Envoy connection manager. */
export class TracingPolicyDto {
  @ApiProperty({ type: TraceCollectorDto })
  @IsDefined({ message: 'is required' })
  @IsObject({ message: 'must be an object' })
  @ValidateNested()
  @Type(() => TraceCollectorDto)
  collector!: TraceCollectorDto;

  @Str({ optional: true, min: 1, max: 256, description: 'service.name of the spans (default: the listener group)' }) serviceName?: string;
  @Num(0, 100, { optional: true, description: 'share of requests traced by random sampling (default 100)' }) samplingPercent?: number;
  @Num(0, 100, { optional: true, description: 'share of requests with x-client-trace-id that are traced (Envoy default 100)' }) clientSamplingPercent?: number;
  @Num(0, 100, { optional: true, description: 'cap on all traced requests, after the other two (Envoy default 100)' }) overallSamplingPercent?: number;
  @Bool({ description: 'a client span per upstream call (Envoy default: on for routers that are not the edge)' }) spawnUpstreamSpan?: boolean;
  @Int(1, 4096, { optional: true, description: 'longest http.url tag (Envoy default 256)' }) maxPathTagLength?: number;

  @ApiPropertyOptional({ type: [TraceTagDto] })
  @IsOptional()
  @IsArray({ message: 'must be an array' })
  @ArrayMaxSize(32, { message: 'must have at most 32 items' })
  @ValidateNested({ each: true })
  @Type(() => TraceTagDto)
  tags?: TraceTagDto[];
}

/** The API side of tracing: the `spec.tracing` schema and its cross-field rules. */
export const tracingSchema: Pick<PolicyKind, 'schema' | 'check'> = {
  schema: TracingPolicyDto,
  check(t: TracingPolicyDto, path): FieldViolation[] {
    const out: FieldViolation[] = [];
    const seen = new Set<string>();
    t.tags?.forEach((tag, i) => {
      const at = `${path}.tags[${i}]`;
      if ((tag.literal === undefined) === (tag.header === undefined)) out.push({ field: at, message: 'set exactly one of literal, header' });
      if (tag.default !== undefined && tag.header === undefined) out.push({ field: `${at}.default`, message: 'applies only to a header tag' });
      if (seen.has(tag.tag)) out.push({ field: `${at}.tag`, message: `duplicate ${JSON.stringify(tag.tag)}` });
      seen.add(tag.tag);
    });
    return out;
  },
};
