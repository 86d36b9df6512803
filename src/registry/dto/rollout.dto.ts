import { ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsDefined, IsOptional, Matches, ValidateNested } from 'class-validator';
import { Bool, DnsLabel, Int, Nested, Num, OneOf, Str } from '../../common/dto.js';
import { ROLLOUT_ACTIONS } from '../../model/resources.js';
import { resourceDto } from './resource.dto.js';
import { HeaderMatchDto } from './route.dto.js';

const URL = /^https?:\/\/[^\s/?#]+(:\d+)?([/?#][^\s]*)?$/;

export class PauseDto {
  @Int(0, 86400, { optional: true, description: 'hold this long (and until an analysis passes); absent = until promoted by hand' }) seconds?: number;
}

export class RolloutStepDto {
  @Int(0, 100, { optional: true, description: 'percent of traffic to the canary' }) setWeight?: number;
  @Nested(HeaderMatchDto, { description: 'calls with this header go to the canary' }) setHeaderRoute?: HeaderMatchDto;
  @Nested(PauseDto) pause?: PauseDto;
}

export class RolloutMetricDto {
  @ApiProperty({ example: 'successRate', description: 'successRate, successRateVsStable, latencyP99, or a name of your own with a query' })
  @Str({ min: 1, max: 63 })
  @Matches(/^[A-Za-z][A-Za-z0-9_-]*$/, { message: 'must start with a letter and hold letters, digits, "_" and "-"' })
  name!: string;
  @Num(-1e12, 1e12, { optional: true }) min?: number;
  @Num(-1e12, 1e12, { optional: true }) max?: number;
  @Int(1, 3600000, { optional: true }) maxMs?: number;
  @Num(0, 100, { optional: true }) maxDropPoints?: number;
  @Str({ optional: true, min: 1, max: 4096, description: 'PromQL; {{service}}, {{stable}}, {{canary}}, {{interval}} are filled in' }) query?: string;
}

export class PrometheusDto {
  @Str({ min: 1, max: 2048, example: 'http://prometheus:9090' }) @Matches(URL, { message: 'must be an http(s) URL' }) url!: string;
}

export class AnalysisDto {
  @Int(1, 3600, { example: 10 }) intervalSeconds!: number;
  @Int(1, 100, { example: 2, description: 'failed checks in a row that roll back' }) failureLimit!: number;
  @Int(0, 100000000, { example: 50, description: 'canary requests per interval below which a check is inconclusive' }) minRequests!: number;

  @ApiProperty({ type: [RolloutMetricDto] })
  @IsArray({ message: 'must be an array' })
  @ArrayMinSize(1, { message: 'must have at least 1 item' })
  @ArrayMaxSize(16, { message: 'must have at most 16 items' })
  @ValidateNested({ each: true })
  @Type(() => RolloutMetricDto)
  metrics!: RolloutMetricDto[];

  @Nested(PrometheusDto, { description: 'for query metrics (default: PROMETHEUS_URL)' }) prometheus?: PrometheusDto;
}

export class WebhookDto {
  @Str({ min: 1, max: 2048 }) @Matches(URL, { message: 'must be an http(s) URL' }) url!: string;
  @Int(1, 60000, { optional: true, description: 'default 5000' }) timeoutMs?: number;
}

export class WebhooksDto {
  @Nested(WebhookDto, { description: 'before any traffic moves; non-2xx fails the rollout' }) preRollout?: WebhookDto;
  @Nested(WebhookDto, { description: 'before the final promotion; non-2xx holds it (asked again every interval)' }) confirmPromotion?: WebhookDto;
  @Nested(WebhookDto, { description: 'after success' }) postRollout?: WebhookDto;
  @Nested(WebhookDto, { description: 'after a rollback' }) rollback?: WebhookDto;
}

export class ControlDto {
  @Str({ min: 1, max: 64 }) id!: string;
  @OneOf(ROLLOUT_ACTIONS) action!: string;
  @Bool({ description: 'promote: straight to the end' }) full?: boolean;
}

export class RolloutSpecDto {
  @DnsLabel('the service rolled out') service!: string;
  @DnsLabel('its stable subset') stable!: string;
  @DnsLabel('its canary subset') canary!: string;

  @IsOptional()
  @IsArray({ message: 'must be an array' })
  @ArrayMaxSize(64, { message: 'must have at most 64 items' })
  @DnsLabel('Routes managed (default: every route that sends to the stable subset)', true, false)
  routes?: string[];

  @ApiProperty({ type: [RolloutStepDto] })
  @IsDefined({ message: 'is required' })
  @IsArray({ message: 'must be an array' })
  @ArrayMinSize(1, { message: 'must have at least 1 item' })
  @ArrayMaxSize(64, { message: 'must have at most 64 items' })
  @ValidateNested({ each: true })
  @Type(() => RolloutStepDto)
  steps!: RolloutStepDto[];

  @Nested(AnalysisDto) analysis?: AnalysisDto;
  @Nested(WebhooksDto) webhooks?: WebhooksDto;
  @OneOf(['promote', 'keep'], { optional: true, description: 'end state: promote (100 % canary, the canary becomes stable) or keep the last weights' }) onSuccess?: string;
  @Nested(ControlDto, { description: 'written by the rollout actions API' }) control?: ControlDto;
}

/** A canary rollout: steps of weights and header routes, judged on live metrics. */
export const RolloutDto = resourceDto('Rollout', RolloutSpecDto, 'A canary rollout: steps of weights and header routes, judged on live metrics.');
