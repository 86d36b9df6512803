import { Controller, Get, Module, Query } from '@nestjs/common';
import { ApiOperation, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength } from 'class-validator';
import { ObservabilityModule } from '../observability/observability.module.js';
import { FeedModule } from '../feed/feed.module.js';
import { HealthBoard } from '../coordination/health-board.js';
import { HealthChecker } from './health-checker.js';

class EventsQueryDto {
  @ApiPropertyOptional({ description: 'only this service' })
  @IsOptional() @IsString() @MaxLength(63)
  service?: string;
}

@ApiTags('health')
@Controller('api/v1/events')
export class EventsController {
  constructor(private readonly board: HealthBoard) {}

  @Get()
  @ApiOperation({ summary: 'Recent health transitions and panic-mode changes, oldest first' })
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
