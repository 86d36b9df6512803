import { EventEmitter } from 'node:events';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { COORDINATION, type Coordination, type KeyValue, type WatchEvent } from './coordination.js';
import { CoordinationMetrics } from './coordination-metrics.js';
import { PrefixMirror } from './prefix-mirror.js';
import type { CheckedState, PublishedHealth } from '../model/health.js';

export const HEALTH_PREFIX = '/switchyard/health/';
export const healthKey = (service: string, endpoint: string) => `${HEALTH_PREFIX}${service}/${endpoint}`;

/** One entry of GET /api/v1/events. */
export interface HealthEvent {
  at: string;
  service: string;
  endpoint?: string;
  type: 'transition' | 'panic' | 'recovered';
  from?: CheckedState;
  to?: CheckedState;
  reason: string;
  by?: string;
}

/**
 * The active-check results of every replica, shared through coordination
 * (`/switchyard/health/<service>/<endpoint>`, written only on transitions), and
 * the recent transitions as events. Every replica sees the same results, so
 * every replica sends proxies the same health.
 */
@Injectable()
export class HealthBoard extends EventEmitter implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('HealthBoard');
  private readonly byService = new Map<string, Map<string, PublishedHealth>>();
  private readonly events: HealthEvent[] = [];
  private readonly mirror: PrefixMirror;

  constructor(
    @Inject(COORDINATION) private readonly coord: Coordination,
    @Inject(CoordinationMetrics) metrics: CoordinationMetrics,
  ) {
    super();
    this.mirror = new PrefixMirror(coord, HEALTH_PREFIX, { reset: (kvs) => this.reset(kvs), event: (e) => this.onEvent(e) }, this.log, metrics);
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.mirror.start();
  }

  onApplicationShutdown(): void {
    this.mirror.stop();
  }

  /** Checked state per endpoint name of a service. */
  states(service: string): Map<string, CheckedState> {
    return new Map([...(this.byService.get(service)?.entries() ?? [])].map(([k, v]) => [k, v.state]));
  }

  get(service: string, endpoint: string): PublishedHealth | undefined {
    return this.byService.get(service)?.get(endpoint);
  }

  services(): string[] {
    return [...this.byService.keys()];
  }

  async publish(service: string, endpoint: string, value: PublishedHealth): Promise<void> {
    await this.coord.put(healthKey(service, endpoint), JSON.stringify(value));
  }

  async forget(service: string, endpoint: string): Promise<void> {
    await this.coord.delete(healthKey(service, endpoint));
  }

  /** Recent events, newest last. */
  recent(service?: string, limit = 200): HealthEvent[] {
    const list = service ? this.events.filter((e) => e.service === service) : this.events;
    return list.slice(-limit);
  }

  record(e: HealthEvent): void {
    this.events.push(e);
    if (this.events.length > 5000) this.events.splice(0, this.events.length - 5000);
  }

  private reset(kvs: KeyValue[]): void {
    const touched = new Set<string>(this.byService.keys());
    this.byService.clear();
    for (const kv of kvs) this.apply(kv, false);
    for (const s of this.byService.keys()) touched.add(s);
    if (touched.size) this.emit('changed', touched);
  }

  private onEvent(e: WatchEvent): void {
    if (e.type === 'put') return this.apply(e.kv, true);
    const [service, endpoint] = e.kv.key.slice(HEALTH_PREFIX.length).split('/');
    if (this.byService.get(service)?.delete(endpoint)) this.emit('changed', new Set([service]));
  }

  private apply(kv: KeyValue, notify: boolean): void {
    const [service, endpoint] = kv.key.slice(HEALTH_PREFIX.length).split('/');
    let v: PublishedHealth;
    try {
      v = JSON.parse(kv.value) as PublishedHealth;
    } catch {
      return;
    }
    if (!this.byService.has(service)) this.byService.set(service, new Map());
    const before = this.byService.get(service)!.get(endpoint)?.state;
    this.byService.get(service)!.set(endpoint, v);
    if (v.transition && before !== v.state)
      this.record({ at: v.transition.at, service, endpoint, type: 'transition', from: v.transition.from, to: v.transition.to, reason: v.transition.reason, by: v.by });
    if (notify && before !== v.state) this.emit('changed', new Set([service]));
  }
}
