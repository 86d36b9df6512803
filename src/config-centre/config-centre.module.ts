import { Module } from '@nestjs/common';
import { FeedModule } from '../feed/feed.module.js';
import { RegistryModule } from '../registry/registry.module.js';
import { ConfigCodec } from './codec.js';
import { ConfigHub } from './config-hub.js';
import { ConfigMetrics } from './config-metrics.js';
import { ObservabilityModule } from '../observability/observability.module.js';
import { ConfigService } from './config.service.js';
import { ConfigsController, ConfigWatchController } from './configs.controller.js';
import { ConfigsGrpc } from './configs.grpc.js';
import { InstanceBoard } from './instance-board.js';
import { ConfigWatchService } from './watch.service.js';

/**
 * The config centre: application configuration stored as the Config kind,
 * pushed to watching instances (gRPC stream, long poll, SSE) from the change
 * feed, with gray release and per-instance acknowledgement.
 */
@Module({
  imports: [RegistryModule, FeedModule, ObservabilityModule],
  controllers: [ConfigWatchController, ConfigsController],
  providers: [ConfigMetrics, ConfigCodec, InstanceBoard, ConfigHub, ConfigService, ConfigWatchService, ConfigsGrpc],
  exports: [ConfigHub],
})
export class ConfigCentreModule {}
