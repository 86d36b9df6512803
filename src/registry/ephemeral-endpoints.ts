import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { AlreadyExists, NotFound, Unavailable, ValidationFailed } from '../common/errors.js';
import { COORDINATION, type Coordination, KEYS, type KeyValue, type WatchEvent } from '../coordination/coordination.js';
import { CoordinationMetrics } from '../coordination/coordination-metrics.js';
import { LeaseRenewer } from '../coordination/lease-renewer.js';
import { PrefixMirror } from '../coordination/prefix-mirror.js';
import type { EndpointSpec, Resource } from '../model/resources.js';
import { RegistryService } from './registry.service.js';
import { REGISTRY_STORE, type RegistryStore } from './store/registry-store.js';
import { parseResource } from './validation.js';

interface Entry {
  resource: Resource<EndpointSpec>;
  lease: string;
}

/**
 * Heartbeat (TTL) endpoints. They live in coordination under
 * `/switchyard/endpoints/<service>/<id>`, each key attached to its own lease:
 * when heartbeats stop, the lease expires and the key (and the endpoint) goes.
 * Registered over REST or written there directly by an instance; both end in
 * the same map, which feeds EDS. While coordination is unreachable nothing
 * expires here: the last known set stays (fail static).
 */
@Injectable()
export class EphemeralEndpoints extends EventEmitter implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('EphemeralEndpoints');
  private readonly byService = new Map<string, Map<string, Entry>>();
  private readonly mirror: PrefixMirror;
  /** Heartbeats renew leases through this: at most one round trip per lease per spacing, see LeaseRenewer. */
  readonly renewer: LeaseRenewer;
  /** False while the watch is down (coordination unreachable). */
  synced = false;
  rejected = 0;

  constructor(
    @Inject(COORDINATION) private readonly coord: Coordination,
    @Inject(REGISTRY_STORE) private readonly store: RegistryStore,
    @Inject(CoordinationMetrics) metrics: CoordinationMetrics,
    registry: RegistryService,
  ) {
    super();
    // A durable endpoint may not take a name a heartbeat endpoint holds (register refuses the reverse).
    registry.holdHeartbeatNames((service, name) => !!this.get(service, name));
    this.renewer = new LeaseRenewer(coord);
    this.mirror = new PrefixMirror(coord, KEYS.endpoints, { reset: (kvs) => this.reset(kvs), event: (e) => this.onEvent(e), down: () => (this.synced = false) }, this.log, metrics);
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.mirror.start();
  }

  onApplicationShutdown(): void {
    this.mirror.stop();
    this.renewer.close();
  }

  /** Every heartbeat endpoint of a service. */
  of(service: string): Resource<EndpointSpec>[] {
    return [...(this.byService.get(service)?.values() ?? [])].map((e) => e.resource);
  }

  all(): Resource<EndpointSpec>[] {
    return [...this.byService.values()].flatMap((m) => [...m.values()].map((e) => e.resource));
  }

  get(service: string, name: string): Resource<EndpointSpec> | undefined {
    return this.byService.get(service)?.get(name)?.resource;
  }

  /** Registers over REST: validates, then writes the key on a fresh lease of spec.ttlSeconds. */
  async register(service: string, body: unknown): Promise<Resource> {
    const { input } = parseResource(body, { kind: 'Endpoint', service, heartbeat: true });
    const ttl = (input.spec as unknown as EndpointSpec).ttlSeconds;
    if (!ttl) throw new ValidationFailed([{ field: 'spec.ttlSeconds', message: 'is required for heartbeat registration' }]);
    if (!(await this.store.get({ kind: 'Service', scope: '', name: service }))) throw new NotFound(`Service ${service} not found`);
    const name = input.name ?? `${service.slice(0, 54).replace(/-+$/, '')}-${randomBytes(4).toString('hex')}`;
    if (await this.store.get({ kind: 'Endpoint', scope: service, name })) throw new AlreadyExists(`Endpoint ${service}/${name} already exists as a durable endpoint`);
    const existing = this.byService.get(service)?.get(name);
    try {
      if (existing) {
        this.renewer.forget(existing.lease);
        await this.coord.revoke(existing.lease);
      }
      const lease = await this.coord.grantPassiveLease(ttl);
      const value = JSON.stringify({ name, service, labels: input.labels, spec: input.spec });
      const rev = await this.coord.put(KEYS.endpoint(service, name), value, { lease });
      // Visible at once on this replica; the watch event confirms it everywhere.
      return this.apply({ key: KEYS.endpoint(service, name), value, createRevision: rev, modRevision: rev, lease }, true)!;
    } catch (e) {
      throw new Unavailable(`coordination unavailable: ${(e as Error).message}`);
    }
  }

  /** Renews a heartbeat endpoint's lease from any replica; registers it when `body` is given and it is unknown. */
  async heartbeat(service: string, name: string, body?: unknown): Promise<{ service: string; name: string; ttlSeconds: number }> {
    // An array or a scalar is no endpoint: refused before anything reads it (an array of 200,000 items spread into the body became 200,000 unknown fields, a minute of validation).
    if (body !== undefined && body !== null && (typeof body !== 'object' || Array.isArray(body)))
      throw new ValidationFailed([{ field: '(body)', message: 'must be a JSON object (the endpoint to register), or absent' }]);
    const entry = this.byService.get(service)?.get(name);
    if (!entry) {
      if (body && typeof body === 'object' && Object.keys(body).length) {
        const r = await this.register(service, { ...(body as object), name });
        return { service, name, ttlSeconds: (r.spec as unknown as EndpointSpec).ttlSeconds! };
      }
      throw new NotFound(`Endpoint ${service}/${name} is not registered (or its TTL expired); register it again`);
    }
    let ttl: number;
    try {
      const ttlSeconds = entry.resource.spec.ttlSeconds;
      ttl = await (ttlSeconds ? this.renewer.heartbeat(entry.lease, ttlSeconds) : this.coord.keepAlive(entry.lease));
    } catch (e) {
      throw new Unavailable(`coordination unavailable: ${(e as Error).message}`);
    }
    if (ttl <= 0) throw new NotFound(`Endpoint ${service}/${name} expired; register it again`);
    return { service, name, ttlSeconds: ttl };
  }

  /** Deregisters at once (e.g. on instance shutdown). */
  async remove(service: string, name: string): Promise<boolean> {
    const entry = this.byService.get(service)?.get(name);
    if (!entry) return false;
    try {
      await this.coord.revoke(entry.lease);
      await this.coord.delete(KEYS.endpoint(service, name));
    } catch (e) {
      throw new Unavailable(`coordination unavailable: ${(e as Error).message}`);
    }
    this.drop(service, name);
    return true;
  }

  private reset(kvs: KeyValue[]): void {
    const before = new Set(this.byService.keys());
    this.byService.clear();
    for (const kv of kvs) this.apply(kv, false);
    this.synced = true;
    this.emit('changed', new Set([...before, ...this.byService.keys()]));
  }

  private onEvent(e: WatchEvent): void {
    const [service, name] = e.kv.key.slice(KEYS.endpoints.length).split('/');
    if (e.type === 'put') this.apply(e.kv, true);
    else if (this.drop(service, name)) this.emit('changed', new Set([service]));
  }

  private apply(kv: KeyValue, notify: boolean): Resource | undefined {
    const [service, id, ...rest] = kv.key.slice(KEYS.endpoints.length).split('/');
    try {
      if (!service || !id || rest.length) throw new Error('key must be /switchyard/endpoints/<service>/<id>');
      const raw = JSON.parse(kv.value) as Record<string, unknown>;
      const { input } = parseResource({ ...raw, name: id, service }, { kind: 'Endpoint', service, heartbeat: true });
      const prev = this.byService.get(service)?.get(id);
      const now = new Date().toISOString();
      const resource: Resource<EndpointSpec> = {
        ...(input as unknown as Resource<EndpointSpec>),
        version: kv.modRevision - kv.createRevision + 1,
        createdAt: prev?.resource.createdAt ?? now,
        updatedAt: now,
        status: { ephemeral: { lease: kv.lease, key: kv.key }, health: { state: (input.spec as { health?: string }).health ?? 'unknown', source: 'heartbeat' } },
      };
      if (!this.byService.has(service)) this.byService.set(service, new Map());
      this.byService.get(service)!.set(id, { resource, lease: kv.lease });
      if (notify) this.emit('changed', new Set([service]));
      return resource as unknown as Resource;
    } catch (e) {
      this.rejected++;
      this.log.warn(`ignoring ${kv.key}: ${e instanceof ValidationFailed ? e.violations.map((v) => `${v.field}: ${v.message}`).join('; ') : (e as Error).message}`);
      return undefined;
    }
  }

  private drop(service: string, name: string): boolean {
    const m = this.byService.get(service);
    const entry = m?.get(name);
    if (!entry || !m) return false;
    m.delete(name);
    this.renewer.forget(entry.lease);
    if (!m.size) this.byService.delete(service);
    return true;
  }
}
