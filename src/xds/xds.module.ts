import { Module } from '@nestjs/common';
import { HealthBoardModule } from '../health/health-board.module.js';
import { ObservabilityModule } from '../observability/observability.module.js';
import { RegistryModule } from '../registry/registry.module.js';
import { SnapshotCache } from './cache.js';
import { ProxiesController } from './proxies.controller.js';
import { ProxiesService } from './proxies.service.js';
import { ProxyRegistry } from './proxies.js';
import { XdsBuilder } from './xds-builder.js';
import { XdsMetrics } from './xds-metrics.js';
import { XdsServer } from './xds.server.js';

/** Change feed → IR → cache → ADS streams. */
@Module({
  imports: [RegistryModule, ObservabilityModule, HealthBoardModule],
  controllers: [ProxiesController],
  providers: [
    { provide: SnapshotCache, useFactory: () => new SnapshotCache() },
    { provide: ProxyRegistry, useFactory: () => new ProxyRegistry() },
    XdsMetrics,
    XdsBuilder,
    XdsServer,
    ProxiesService,
  ],
  exports: [SnapshotCache, XdsServer, XdsBuilder],
})
export class XdsModule {}
