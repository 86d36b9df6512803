import { EventEmitter } from 'node:events';
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '../config/config.js';
import { COORDINATION } from '../coordination/coordination.module.js';
import { type Coordination, KEYS, type Watch } from '../coordination/coordination.js';
import { EphemeralEndpoints } from '../registry/ephemeral-endpoints.js';
import { RegistryEvents } from '../registry/registry-events.js';
import { REGISTRY_STORE, type RegistryStore } from '../registry/store/registry-store.js';
import { HealthBoard } from '../health/health-board.js';
import { type EffectiveHealth, effectiveHealth } from '../health/health-state.js';
import type { HealthCheckPolicyDto } from '../policies/health-check/health-check.policy.js';
import { type Change, type EndpointSpec, keyOf, type PolicySpec, type Resource, type ResourceKey, type ServiceSpec } from '../registry/model.js';
import { stableJson } from '../common/json.js';
import { buildIR, type IR, patchEndpoints, type TranslationIssue } from '../translate/ir.js';
import { SnapshotCache } from './cache.js';
import { XdsMetrics } from './xds-metrics.js';

/**
 * The change feed: committed registry changes (announced in-process, or seen in
 * the change log when another process wrote them) wake a debounced rebuild of
 * the IR, which the cache turns into per-group snapshots.
 */
/** One endpoint the control plane should probe, with its service's check settings. */
export interface HealthTarget {
  service: string;
  endpoint: string;
  address: string;
  port: number;
  check: HealthCheckPolicyDto;
}

@Injectable()
export class XdsBuilder extends EventEmitter implements OnApplicationShutdown {
  private readonly log = new Logger('XdsBuilder');
  private lastRevision = -1;
  /** The registry as of lastRevision, kept current from the change log. */
  private state?: Map<string, Resource>;
  private readonly endpoints = new Map<string, Map<string, Resource>>();
  private ir?: IR;
  /** Change-log revisions applied incrementally, in order (the last 1000), and full re-reads done. */
  readonly applied: number[] = [];
  fullReads = 0;
  /** Translation status last written per resource (stable JSON), to write only differences. */
  private readonly statusWritten = new Map<string, string>();
  private quietTimer?: NodeJS.Timeout;
  private firstPendingAt = 0;
  private running?: Promise<void>;
  private again = false;
  private poller?: NodeJS.Timeout;
  private stopped = false;
  private readonly onCommit = () => this.schedule();
  /** Changes coalesced into the next rebuild. */
  private coalesced = 0;

  constructor(
    @Inject(REGISTRY_STORE) private readonly store: RegistryStore,
    private readonly events: RegistryEvents,
    private readonly cache: SnapshotCache,
    @Inject(AppConfig) private readonly config: AppConfig,
    private readonly metrics: XdsMetrics,
    private readonly ephemeral: EphemeralEndpoints,
    @Inject(COORDINATION) private readonly coord: Coordination,
    private readonly health: HealthBoard,
  ) {
    super();
  }

  /** Services currently in panic mode (most endpoints failing checks, all kept in rotation). */
  private readonly panicking = new Map<string, { failing: number; total: number }>();

  /** Services whose heartbeat endpoints changed since the last build. */
  private readonly pendingServices = new Set<string>();
  private revisionWatch?: Watch;
  private readonly onEphemeral = (services: Set<string>) => {
    for (const s of services) this.pendingServices.add(s);
    this.schedule();
  };
  private readonly onCommitAnnounce = () => void this.announce();

  /** Builds the first snapshot, then follows changes. */
  async start(): Promise<void> {
    await this.rebuild();
    this.events.on('committed', this.onCommit);
    this.events.on('committed', this.onCommitAnnounce);
    this.ephemeral.on('changed', this.onEphemeral);
    this.health.on('changed', this.onEphemeral);
    void this.followAnnouncements();
    this.poller = setInterval(() => void this.poll(), this.config.XDS_POLL_INTERVAL_MS);
    this.poller.unref();
  }

  /** Store revision of the IR being served. */
  get revision(): number {
    return this.lastRevision;
  }

  /** Asks for a rebuild: after XDS_DEBOUNCE_QUIET_MS of quiet, at most XDS_DEBOUNCE_MAX_MS after the first request. */
  schedule(): void {
    if (this.stopped) return;
    this.coalesced++;
    const now = Date.now();
    if (!this.quietTimer) this.firstPendingAt = now;
    clearTimeout(this.quietTimer);
    const wait = Math.max(0, Math.min(this.config.XDS_DEBOUNCE_QUIET_MS, this.firstPendingAt + this.config.XDS_DEBOUNCE_MAX_MS - now));
    this.quietTimer = setTimeout(() => {
      this.quietTimer = undefined;
      void this.rebuild();
    }, wait);
  }

  /** Rebuilds now (serialised: a request during a build runs one more build after it). */
  async rebuild(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        const coalesced = this.coalesced;
        const changedAt = coalesced ? this.firstPendingAt : Date.now();
        this.coalesced = 0;
        const started = process.hrtime.bigint();
        try {
          const built = await this.step(changedAt);
          if (built) this.metrics.rebuilt(Number(process.hrtime.bigint() - started) / 1e9, coalesced, built);
        } catch (e) {
          // Fail static: keep serving the last good snapshot; the poller retries.
          this.log.warn(`rebuild failed, still serving revision ${this.lastRevision}: ${(e as Error).message}`);
        }
      } while (this.again && !this.stopped);
    })().finally(() => (this.running = undefined));
    return this.running;
  }

  /**
   * One rebuild. Follows the change log from the last revision; when every
   * change is to endpoints, only their clusters' EDS is recomputed. A gap, a
   * long backlog or a first start re-reads the whole registry.
   */
  private async step(changedAt: number): Promise<IR | undefined> {
    const heartbeat = new Set(this.pendingServices);
    this.pendingServices.clear();
    if (this.ir && this.state) {
      let log: { changes: Change[]; revision: number } | undefined;
      try {
        log = await this.store.changes(this.lastRevision, 1000, { withObjects: true });
      } catch (e) {
        // PostgreSQL down: registry changes wait, heartbeat endpoints still flow (fail static).
        if (heartbeat.size) return this.fast(this.ir, this.lastRevision, heartbeat);
        throw e;
      }
      const { changes, revision } = log;
      if (revision === this.lastRevision) return heartbeat.size ? this.fast(this.ir, revision, heartbeat) : undefined;
      const gapless = changes.length > 0 && changes[0].revision === this.lastRevision + 1 && changes[changes.length - 1].revision === revision;
      if (gapless) {
        this.metrics.committedAt(revision, changedAt);
        for (const c of changes) {
          this.apply(c);
          this.applied.push(c.revision);
        }
        if (this.applied.length > 1000) this.applied.splice(0, this.applied.length - 1000);
        const services = new Set(changes.map((c) => (c.kind === 'Endpoint' ? c.service! : '')));
        for (const h of heartbeat) services.add(h);
        if (!services.has('')) return this.fast(this.ir, revision, services);
        return this.publish(buildIR({ revision, resources: this.resources() }));
      }
    }
    const snap = await this.store.snapshot();
    this.fullReads++;
    this.metrics.committedAt(snap.revision, changedAt);
    this.state = new Map();
    this.endpoints.clear();
    this.statusWritten.clear();
    for (const r of snap.resources) {
      this.put(r);
      if (r.status.translation) this.statusWritten.set(stateKey(r), stableJson(pick(r.status.translation as object)));
    }
    return this.publish(buildIR({ revision: snap.revision, resources: this.resources() }));
  }

  /** Registry resources plus heartbeat endpoints (a durable endpoint wins a name clash), with effective health. */
  private resources(): Resource[] {
    const out: Resource[] = [];
    for (const r of this.state!.values()) if (r.kind !== 'Endpoint') out.push(r);
    const services = new Set([...this.endpoints.keys(), ...this.ephemeral.all().map((e) => e.service!)]);
    for (const s of services) out.push(...this.endpointsOf(s));
    return out;
  }

  /** A service's durable and heartbeat endpoints, with health from active checks applied. */
  private endpointsOf(service: string): Resource[] {
    const durable = this.endpoints.get(service) ?? new Map<string, Resource>();
    const eps = [...durable.values(), ...(this.ephemeral.of(service).filter((e) => !durable.has(e.name)) as unknown as Resource[])];
    const checked = this.health.states(service);
    if (!checked.size) {
      this.setPanic(service, undefined);
      return eps;
    }
    const admin = eps.map((e) => ({ name: e.name, admin: ((e.spec as { health?: EffectiveHealth }).health ?? 'unknown') as EffectiveHealth }));
    const eff = effectiveHealth(admin, checked, this.config.HEALTH_PANIC_PERCENT / 100);
    this.setPanic(service, eff.panic ? { failing: eff.failing, total: eff.total } : undefined);
    return eps.map((e) => {
      const h = eff.health.get(e.name)!;
      return (e.spec as { health?: string }).health === h ? e : { ...e, spec: { ...e.spec, health: h } };
    });
  }

  private setPanic(service: string, p: { failing: number; total: number } | undefined): void {
    const was = this.panicking.get(service);
    if (p) this.panicking.set(service, p);
    else this.panicking.delete(service);
    if (!!was === !!p) return;
    this.health.record({
      at: new Date().toISOString(),
      service,
      type: p ? 'panic' : 'recovered',
      reason: p
        ? `panic: ${p.failing} of ${p.total} endpoints fail their health checks; all are kept in rotation`
        : 'out of panic: failing endpoints are withdrawn again',
    });
  }

  /** Endpoints the control plane should probe: those of services with a healthCheck policy run by it. */
  healthTargets(): HealthTarget[] {
    if (!this.state) return [];
    const out: HealthTarget[] = [];
    for (const r of this.state.values()) {
      if (r.kind !== 'Service') continue;
      const check = this.checkOf(r as unknown as Resource<ServiceSpec>);
      if (!check || (check.runBy ?? 'controlPlane') === 'envoy') continue;
      const durable = this.endpoints.get(r.name) ?? new Map<string, Resource>();
      const eps = [...durable.values(), ...(this.ephemeral.of(r.name).filter((e) => !durable.has(e.name)) as unknown as Resource[])];
      for (const e of eps) {
        const spec = e.spec as unknown as EndpointSpec;
        out.push({ service: r.name, endpoint: e.name, address: spec.address, port: spec.port, check });
      }
    }
    return out;
  }

  private checkOf(svc: Resource<ServiceSpec>): HealthCheckPolicyDto | undefined {
    for (const name of svc.spec.policies ?? []) {
      const p = this.state!.get(`Policy//${name}`) as unknown as Resource<PolicySpec> | undefined;
      if (p?.spec.type === 'healthCheck') return p.spec.healthCheck as HealthCheckPolicyDto;
    }
    return undefined;
  }

  /** The EDS fast path for `services`; a service unknown to the registry falls back to a full build. */
  private fast(ir: IR, revision: number, services: Set<string>): Promise<IR> {
    if (![...services].every((s) => this.state!.has(`Service//${s}`))) return this.publish(buildIR({ revision, resources: this.resources() }));
    const changed = [...services].map((s) => ({
      service: this.state!.get(`Service//${s}`) as unknown as Resource<ServiceSpec>,
      endpoints: this.endpointsOf(s) as unknown as Resource<EndpointSpec>[],
    }));
    const patched = patchEndpoints(ir, revision, changed);
    return this.publish(patched.ir, patched.clusters);
  }

  /** Tells other replicas that the registry moved (they also poll, in case this is missed). */
  private async announce(): Promise<void> {
    try {
      const { revision } = await this.store.changes(Number.MAX_SAFE_INTEGER, 1);
      await this.coord.put(KEYS.revision, String(revision));
    } catch (e) {
      this.log.debug(`could not announce revision: ${(e as Error).message}`);
    }
  }

  /** Rebuilds when another replica announces a commit; re-watches after any watch error. */
  private async followAnnouncements(): Promise<void> {
    if (this.stopped) return;
    try {
      const kv = await this.coord.get(KEYS.revision);
      const from = (kv?.modRevision ?? 0) + 1;
      this.revisionWatch?.cancel();
      this.revisionWatch = this.coord.watch(KEYS.revision, from, {
        event: () => this.schedule(),
        error: () => {
          this.schedule(); // something may have been missed: the change log has it
          setTimeout(() => void this.followAnnouncements(), 500).unref();
        },
      });
    } catch {
      setTimeout(() => void this.followAnnouncements(), 1000).unref();
    }
  }

  private async publish(ir: IR, edsOnly?: Set<string>): Promise<IR> {
    this.cache.setIR(ir, edsOnly);
    this.ir = ir;
    this.lastRevision = ir.revision;
    this.emit('published');
    await this.writeStatus(ir);
    return ir;
  }

  private apply(c: Change): void {
    const key = `${c.kind}/${c.service ?? ''}/${c.name}`;
    if (c.op === 'delete' || !c.object) {
      const old = this.state!.get(key);
      if (old) this.drop(old);
    } else this.put(c.object);
  }

  private put(r: Resource): void {
    this.state!.set(stateKey(r), r);
    if (r.kind === 'Endpoint') {
      if (!this.endpoints.has(r.service!)) this.endpoints.set(r.service!, new Map());
      this.endpoints.get(r.service!)!.set(r.name, r);
    }
  }

  private drop(r: Resource): void {
    this.state!.delete(stateKey(r));
    if (r.kind === 'Endpoint') this.endpoints.get(r.service!)?.delete(r.name);
  }

  /**
   * Writes translation problems onto each registry resource's `status.translation`
   * (and clears it once fixed). Only differences are written.
   */
  private async writeStatus(ir: IR): Promise<void> {
    const issues: TranslationIssue[] = [...ir.issues];
    for (const [service, p] of this.panicking)
      issues.push({ kind: 'Service', name: service, severity: 'warning', message: `degraded: panic mode, ${p.failing} of ${p.total} endpoints fail their health checks and all are kept in rotation` });
    for (const g of this.cache.knownGroups()) {
      const s = this.cache.snapshot(g)!;
      issues.push(...s.issues.map((i) => ({ ...i, group: s.key })));
    }
    this.metrics.issues(issues);
    const wanted = new Map<string, { errors: object[]; warnings: object[] }>();
    for (const i of issues) {
      const k = `${i.kind}/${i.service ?? ''}/${i.name}`; // same shape as stateKey
      if (!wanted.has(k)) wanted.set(k, { errors: [], warnings: [] });
      const entry = { ...(i.field ? { field: i.field } : {}), message: i.message, ...(i.group ? { group: i.group } : {}) };
      const list = wanted.get(k)![i.severity === 'error' ? 'errors' : 'warnings'];
      if (!list.some((x) => stableJson(x) === stableJson(entry))) list.push(entry);
    }
    const updates: { key: ResourceKey; value: unknown }[] = [];
    const written: [string, string | undefined][] = [];
    const keys = new Set([...wanted.keys(), ...this.statusWritten.keys()]);
    for (const k of keys) {
      const want = wanted.get(k);
      const text = want ? stableJson(want) : undefined;
      if (text === this.statusWritten.get(k)) continue;
      const r = this.state?.get(k);
      if (!r) {
        this.statusWritten.delete(k);
        continue;
      }
      updates.push({ key: keyOf(r), value: want ? { ...want, revision: ir.revision } : null });
      written.push([k, text]);
    }
    await this.store.setStatus('translation', updates);
    // Only once stored: a failed write is retried on the next build.
    for (const [k, text] of written) {
      if (text) this.statusWritten.set(k, text);
      else this.statusWritten.delete(k);
    }
  }

  private async poll(): Promise<void> {
    try {
      const { revision } = await this.store.changes(Number.MAX_SAFE_INTEGER, 1);
      if (revision !== this.lastRevision) this.schedule();
    } catch {
      /* database down: keep serving what we have */
    }
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    clearTimeout(this.quietTimer);
    clearInterval(this.poller);
    this.events.off('committed', this.onCommit);
    this.events.off('committed', this.onCommitAnnounce);
    this.ephemeral.off('changed', this.onEphemeral);
    this.health.off('changed', this.onEphemeral);
    this.revisionWatch?.cancel();
  }
}

const stateKey = (r: { kind: string; service?: string; name: string }) => `${r.kind}/${r.service ?? ''}/${r.name}`;
const pick = (t: object) => {
  const { errors, warnings } = t as { errors?: unknown; warnings?: unknown };
  return { errors, warnings };
};
