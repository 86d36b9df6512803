import { createHash } from 'node:crypto';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import { AppConfig } from '../config/config.js';
import { Replica } from '../coordination/coordination.module.js';
import { KEYS, type LeaseHandle, type Watch } from '../coordination/coordination.js';
import { MetricsService } from '../observability/metrics.service.js';
import { ChangeFeed, type FeedEvent } from '../feed/change-feed.js';
import { HealthBoard } from '../coordination/health-board.js';
import { applyResult, type CheckState } from './health-state.js';
import { forgetTarget, probe, type ProbeSpec, refusedTarget } from './probes.js';
import type { ProbeResult } from '../model/health.js';
import { type HealthTarget, serviceTargets, type TargetSource } from './targets.js';

interface Job {
  key: string;
  target: HealthTarget;
  state: CheckState;
  timer?: NodeJS.Timeout;
  stopped: boolean;
}

/**
 * Active health checks run by the control plane. Endpoints are shared among
 * live replicas by rendezvous hashing over the membership in coordination,
 * so each endpoint is probed by exactly one replica; when a replica's
 * membership lease expires, the others take over its share. Probes are
 * bounded by HEALTH_MAX_CONCURRENT_PROBES. Results go to the HealthBoard.
 */
@Injectable()
export class HealthChecker implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('HealthChecker');
  private readonly jobs = new Map<string, Job>();
  private members: string[] = [];
  private lease?: LeaseHandle;
  private watch?: Watch;
  private stopped = false;
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly probes: Counter<'result'>;
  private readonly owned: Gauge;
  /** The current targets by service (recomputed per service as the feed reports changes). */
  private readonly targets = new Map<string, HealthTarget[]>();
  private readonly source: TargetSource;

  constructor(
    @Inject(AppConfig) private readonly config: AppConfig,
    private readonly replica: Replica,
    private readonly board: HealthBoard,
    private readonly feed: ChangeFeed,
    metrics: MetricsService,
  ) {
    this.source = {
      service: (name) => feed.mirror.get('Service', name),
      policy: (name) => feed.mirror.get('Policy', name),
      endpoints: (service) => ({ durable: feed.mirror.endpoints(service), heartbeat: feed.heartbeat(service) }),
    };
    feed.subscribe((e) => this.onFeed(e));
    this.probes = new Counter({ name: 'switchyard_health_probes_total', help: 'active health probes by result', labelNames: ['result'], registers: [metrics.registry] });
    this.owned = new Gauge({ name: 'switchyard_health_probed_endpoints', help: 'endpoints this replica probes', registers: [metrics.registry] });
  }

  async onApplicationBootstrap(): Promise<void> {
    this.members = [this.replica.id];
    void this.join();
    this.reconcile();
  }

  /** Recomputes the targets of what changed: every service after a full read or a Service/Policy change, else the services named. */
  private onFeed(e: FeedEvent): void {
    const all = e.full || e.kinds.has('Service') || e.kinds.has('Policy');
    const services = all ? new Set([...this.targets.keys(), ...this.feed.mirror.of('Service').map((s) => s.name)]) : e.endpointServices;
    for (const s of services) {
      const t = serviceTargets(s, this.source);
      if (t.length) this.targets.set(s, t);
      else this.targets.delete(s);
    }
    this.reconcile();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    this.watch?.cancel();
    for (const j of this.jobs.values()) this.stop(j);
    this.jobs.clear();
    await this.lease?.revoke().catch(() => undefined);
  }

  /** Endpoint keys (`service/name`) this replica probes. */
  ownedKeys(): string[] {
    return [...this.jobs.keys()].sort();
  }

  /** The latest local check state of an endpoint this replica probes. */
  local(service: string, name: string): CheckState | undefined {
    return this.jobs.get(`${service}/${name}`)?.state;
  }

  /** Joins the membership (a key on this replica's own lease) and follows it. */
  private async join(): Promise<void> {
    if (this.stopped) return;
    const coord = this.replica.coordination;
    try {
      if (!this.lease) {
        this.lease = await coord.grantLease(this.config.LEADER_TTL_SECONDS);
        this.lease.onLost(() => {
          this.lease = undefined;
          setTimeout(() => void this.join(), 500).unref();
        });
      }
      await coord.put(`${KEYS.members}${this.replica.id}`, JSON.stringify({ id: this.replica.id, since: new Date().toISOString() }), { lease: this.lease.id });
      const { kvs, revision } = await coord.list(KEYS.members);
      this.setMembers(kvs.map((kv) => kv.key.slice(KEYS.members.length)));
      this.watch?.cancel();
      this.watch = coord.watch(KEYS.members, revision + 1, {
        event: () => void coord.list(KEYS.members).then(({ kvs: now }) => this.setMembers(now.map((kv) => kv.key.slice(KEYS.members.length)))),
        error: () => setTimeout(() => void this.join(), 500).unref(),
      });
    } catch {
      // Coordination down: keep probing what we have (fail static) and retry.
      setTimeout(() => void this.join(), 1000).unref();
    }
  }

  private setMembers(ids: string[]): void {
    const next = [...new Set([...ids, this.replica.id])].sort();
    if (next.join() === this.members.join()) return;
    this.members = next;
    this.reconcile();
  }

  /** Rendezvous hashing: the member with the highest hash of (member, key) probes the key. */
  private owner(key: string): string {
    let best = '';
    let bestHash = '';
    for (const m of this.members) {
      const h = createHash('sha1').update(`${m}|${key}`).digest('hex');
      if (h > bestHash) {
        bestHash = h;
        best = m;
      }
    }
    return best;
  }

  /** Starts probing what this replica now owns and stops what it no longer does. */
  private reconcile(): void {
    if (this.stopped) return;
    const targets = [...this.targets.values()].flat();
    const want = new Map<string, HealthTarget>();
    for (const t of targets) {
      const key = `${t.service}/${t.endpoint}`;
      if (this.owner(key) === this.replica.id) want.set(key, t);
    }
    const existing = new Set(targets.map((t) => `${t.service}/${t.endpoint}`));
    for (const [key, job] of this.jobs) {
      const next = want.get(key);
      if (next && JSON.stringify(next) === JSON.stringify(job.target)) continue;
      this.stop(job);
      this.jobs.delete(key);
      if (!existing.has(key)) void this.board.forget(job.target.service, job.target.endpoint).catch(() => undefined);
    }
    for (const [key, target] of want) {
      if (this.jobs.has(key)) continue;
      const published = this.board.get(target.service, target.endpoint);
      // Continue from what the previous prober published, so a hand-over does not flap.
      const initial = published?.state ?? (target.check.initialState === 'unhealthy' ? 'unhealthy' : 'unknown');
      const job: Job = { key, target, state: { state: initial, successes: 0, failures: 0 }, stopped: false };
      this.jobs.set(key, job);
      if (!published && initial === 'unhealthy')
        void this.board.publish(target.service, target.endpoint, { state: 'unhealthy', by: this.replica.id, transition: { at: new Date().toISOString(), from: 'unknown', to: 'unhealthy', reason: 'waiting for the first passing check' } }).catch(() => undefined);
      this.schedule(job, Math.random() * target.check.intervalMs);
    }
    this.owned.set(this.jobs.size);
  }

  private schedule(job: Job, delay: number): void {
    if (job.stopped || this.stopped) return;
    job.timer = setTimeout(() => void this.run(job), delay);
    job.timer.unref();
  }

  private async run(job: Job): Promise<void> {
    const { check, address, port, service, endpoint } = job.target;
    await this.slot();
    let result: ProbeResult;
    try {
      if (job.stopped) return;
      const refused = refusedTarget(address, this.config.HEALTH_ALLOW_LINK_LOCAL);
      result = refused ? { ok: false, detail: `refused: ${refused} (set HEALTH_ALLOW_LINK_LOCAL=true to allow)`, ms: 0 } : await probe(address, port, check as ProbeSpec);
    } finally {
      this.release();
    }
    if (job.stopped) return;
    this.probes.inc({ result: result.ok ? 'pass' : 'fail' });
    const { next, transition } = applyResult(job.state, result, { healthyThreshold: check.healthyThreshold ?? 2, unhealthyThreshold: check.unhealthyThreshold ?? 2 }, new Date().toISOString());
    job.state = next;
    if (transition) {
      this.log.log(`${service}/${endpoint}: ${transition.from} → ${transition.to} (${transition.reason})`);
      await this.board.publish(service, endpoint, { state: next.state, transition, lastProbe: next.lastProbe, by: this.replica.id }).catch((e) => {
        this.log.warn(`could not publish health of ${service}/${endpoint}: ${(e as Error).message}`);
      });
    }
    this.schedule(job, check.intervalMs + Math.random() * (check.jitterMs ?? 0));
  }

  private stop(job: Job): void {
    job.stopped = true;
    clearTimeout(job.timer);
    if (job.target.check.protocol === 'grpc') forgetTarget(job.target.address, job.target.port);
  }

  private slot(): Promise<void> {
    if (this.inFlight < this.config.HEALTH_MAX_CONCURRENT_PROBES) {
      this.inFlight++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(() => {
      this.inFlight++;
      resolve();
    }));
  }

  private release(): void {
    this.inFlight--;
    this.waiting.shift()?.();
  }
}
