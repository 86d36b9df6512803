import { Controller, Get, Module, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength } from 'class-validator';
import { ApiErrors } from '../common/openapi.js';
import { ObservabilityModule } from '../observability/observability.module.js';
import { FeedModule } from '../feed/feed.module.js';
import { HealthBoard } from '../coordination/health-board.js';
import { HealthChecker } from './health-checker.js';

class EventsQueryDto {
  @ApiPropertyOptional({ description: 'only this service' })
  @IsOptional() @IsString() @MaxLength(63)
  service?: string;
}

const CHECKED_STATES = ['unknown', 'healthy', 'unhealthy'];

/** One health transition or panic-mode change (HealthEvent). */
class HealthEventDto {
  @ApiProperty({ format: 'date-time' }) at!: string;
  @ApiProperty() service!: string;
  @ApiPropertyOptional({ description: 'the endpoint, for transitions' }) endpoint?: string;
  @ApiProperty({ enum: ['transition', 'panic', 'recovered'] }) type!: string;
  @ApiPropertyOptional({ enum: CHECKED_STATES }) from?: string;
  @ApiPropertyOptional({ enum: CHECKED_STATES }) to?: string;
  @ApiProperty({ example: 'HTTP 503' }) reason!: string;
  @ApiPropertyOptional({ description: 'the replica that probed' }) by?: string;
}

class HealthEventListDto {
  @ApiProperty({ type: [HealthEventDto], description: 'the most recent (at most 200), oldest first' })
  items!: HealthEventDto[];
}

@ApiTags('health')
@Controller('api/v1/events')
export class EventsController {
  constructor(private readonly board: HealthBoard) {}

  @Get()
  @ApiOperation({ summary: 'Recent health transitions and panic-mode changes, oldest first' })
  @ApiOkResponse({ type: HealthEventListDto, description: 'the recent events' })
  @ApiErrors({ 400: 'a bad service parameter' })
  list(@Query() q: EventsQueryDto) {
    return { items: this.board.recent(q.service) };
  }
}

/** Active health checks run by the control plane, and their events. */
@Module({
  imports: [FeedModule, ObservabilityModule],
  controllers: [EventsController],
  providers: [HealthChecker],
  exports: [HealthChecker],
})
export class HealthModule {}
