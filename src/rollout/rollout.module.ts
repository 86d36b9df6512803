import { Module } from '@nestjs/common';
import { FeedModule } from '../feed/feed.module.js';
import { ObservabilityModule } from '../observability/observability.module.js';
import { RegistryModule } from '../registry/registry.module.js';
import { XdsModule } from '../xds/xds.module.js';
import { RolloutController } from './controller.js';
import { LoadBoard } from './load-board.js';

/** Progressive delivery: the leader's rollout controller and the fleet-wide load it judges canaries on. */
@Module({
  imports: [FeedModule, RegistryModule, XdsModule, ObservabilityModule],
  providers: [LoadBoard, RolloutController],
  exports: [RolloutController],
})
export class RolloutModule {}
