import { type DynamicModule, Global, Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from './config/config.js';
import { AuthModule } from './auth/auth.module.js';
import { CoordinationModule } from './coordination/coordination.module.js';
import { CoordinationMetrics } from './coordination/coordination-metrics.js';
import { Database } from './database/database.js';
import { ObservabilityModule } from './observability/observability.module.js';
import { MetricsService } from './observability/metrics.service.js';
import { RegistryModule } from './registry/registry.module.js';
import { HealthModule } from './health/health.module.js';
import { XdsModule } from './xds/xds.module.js';
import { RolloutModule } from './rollout/rollout.module.js';
import { ConfigCentreModule } from './config-centre/config-centre.module.js';
import { TLS_MATERIAL, type TlsMaterial } from './security/tls.js';
import { AuditModule } from './audit/audit.module.js';

/** Provides the validated config, the open database and the TLS files (null when TLS is off) to every module; closes the database last. */
@Global()
@Module({})
class CoreModule implements OnApplicationShutdown {
  constructor(@Inject(Database) private readonly db: Database) {}

  static forRoot(config: AppConfig, db: Database, tls: TlsMaterial | null): DynamicModule {
    return {
      module: CoreModule,
      providers: [
        { provide: AppConfig, useValue: config },
        { provide: Database, useValue: db },
        { provide: TLS_MATERIAL, useValue: tls },
      ],
      exports: [AppConfig, Database, TLS_MATERIAL],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.db.close();
  }
}

/** The whole control plane. */
@Module({})
export class AppModule {
  // Coordination may not import observability: its counters join this app's registry here, at the root that sees both.
  constructor(@Inject(MetricsService) metrics: MetricsService, @Inject(CoordinationMetrics) coordination: CoordinationMetrics) {
    metrics.registry.registerMetric(coordination.relists);
  }

  static forRoot(config: AppConfig, db: Database, tls: TlsMaterial | null = null): DynamicModule {
    return {
      module: AppModule,
      imports: [
        CoreModule.forRoot(config, db, tls),
        CoordinationModule,
        ObservabilityModule,
        AuthModule,
        RegistryModule,
        XdsModule,
        HealthModule,
        RolloutModule,
        ConfigCentreModule,
        AuditModule,
      ],
    };
  }
}
