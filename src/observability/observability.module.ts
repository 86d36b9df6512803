import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { MetricsService } from './metrics.service.js';
import { ProbesController } from './probes.controller.js';

/** Metrics, liveness and readiness. */
@Module({
  imports: [TerminusModule.forRoot({ logger: false })],
  controllers: [ProbesController],
  providers: [MetricsService],
  exports: [MetricsService],
})
export class ObservabilityModule {}
