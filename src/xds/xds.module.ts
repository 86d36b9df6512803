import { Logger, Module } from '@nestjs/common';
import { FeedModule } from '../feed/feed.module.js';
import { RegistryModule } from '../registry/registry.module.js';
import { ObservabilityModule } from '../observability/observability.module.js';
import { POLICY_KINDS } from '../policies/index.js';
import { SnapshotCache, XDS_CACHE } from './cache/cache.js';
import { PreviewController } from './preview.controller.js';
import { XdsPreview } from './preview.js';
import { ProxiesController } from './proxies.controller.js';
import { ProxiesService } from './proxies.service.js';
import { XdsPublisher } from './publisher.js';
import { LoadReports } from './server/lrs.js';
import { ProxyRegistry } from './server/proxies.js';
import { XdsServer } from './server/xds.server.js';
import { XdsMetrics } from './xds-metrics.js';
import { AppConfig } from '../config/config.js';
import { FileXdsIdentityResolver, IdentitiesFile, XDS_IDENTITY_RESOLVER } from '../security/xds-identity.js';

/** Change feed → IR → cache → ADS streams. The server sees only the cache. */
@Module({
  imports: [FeedModule, RegistryModule, ObservabilityModule],
  controllers: [ProxiesController, PreviewController],
  providers: [
    { provide: SnapshotCache, useFactory: () => new SnapshotCache(POLICY_KINDS) },
    { provide: XDS_CACHE, useExisting: SnapshotCache },
    { provide: ProxyRegistry, useFactory: () => new ProxyRegistry() },
    { provide: LoadReports, useFactory: () => new LoadReports() },
    {
      // XDS_IDENTITIES_FILE, re-read on change; null when unset. Closed by Nest (onApplicationShutdown).
      provide: IdentitiesFile,
      inject: [AppConfig],
      useFactory: (config: AppConfig) => {
        if (!config.XDS_IDENTITIES_FILE) return null;
        const f = new IdentitiesFile(config.XDS_IDENTITIES_FILE, (m) => new Logger('XdsIdentities').warn(m));
        f.startWatching(config.SECURITY_RELOAD_INTERVAL_MS);
        return f;
      },
    },
    {
      // The identity port: an API-token module replaces this provider (see src/security/xds-identity.ts).
      provide: XDS_IDENTITY_RESOLVER,
      inject: [IdentitiesFile],
      useFactory: (file: IdentitiesFile | null) => (file ? new FileXdsIdentityResolver(file) : null),
    },
    XdsMetrics,
    XdsPublisher,
    XdsServer,
    ProxiesService,
    XdsPreview,
  ],
  exports: [SnapshotCache, XdsServer, XdsPublisher, LoadReports],
})
export class XdsModule {}
