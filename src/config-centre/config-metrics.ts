import { Injectable } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import { MetricsService } from '../observability/metrics.service.js';

/** Config centre metrics: watchers, updates sent, and encodings (one per config revision and variant, however many watchers). */
@Injectable()
export class ConfigMetrics {
  readonly watchers: Gauge<'transport'>;
  readonly updates: Counter<'transport'>;
  readonly encodes: Counter;

  constructor(metrics: MetricsService) {
    const registers = [metrics.registry];
    this.watchers = new Gauge({ name: 'switchyard_config_watchers', help: 'open config watches on this replica, by transport', labelNames: ['transport'], registers });
    this.updates = new Counter({ name: 'switchyard_config_updates_sent_total', help: 'config updates handed to watchers, by transport', labelNames: ['transport'], registers });
    this.encodes = new Counter({ name: 'switchyard_config_encodes_total', help: 'config updates encoded (each is shared by every watcher that gets it)', registers });
  }
}
