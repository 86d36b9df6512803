import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '../config/config.js';
import { Replica } from '../coordination/coordination.module.js';
import { COORDINATION, type Coordination, KEYS, type LeaseHandle } from '../coordination/coordination.js';
import { type LoadBucket, LoadReports, type LoadTotals, sum } from '../xds/server/lrs.js';

/** What one replica publishes: its clients' load per cluster, the last minutes. */
interface Published {
  replica: string;
  clusters: Record<string, LoadBucket[]>;
}

const PUBLISH_MS = 1000;
const WINDOW_MS = 180_000;

/**
 * Load reports from every replica. Each replica's xDS clients report to that
 * replica; each replica publishes its recent per-cluster buckets under
 * /switchyard/load/<replica> on its own lease (gone when it dies), and the
 * leader adds them up, so a rollout is judged on the whole fleet's traffic
 * whichever replica a client is connected to.
 */
@Injectable()
export class LoadBoard implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('LoadBoard');
  private timer?: NodeJS.Timeout;
  private lease?: LeaseHandle;
  private stopped = false;

  constructor(
    private readonly loads: LoadReports,
    private readonly replica: Replica,
    @Inject(COORDINATION) private readonly coord: Coordination,
    @Inject(AppConfig) private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    // One process with in-memory coordination has nobody to share with.
    if (this.coord.kind === 'memory') return;
    this.timer = setInterval(() => void this.publish(), PUBLISH_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.lease?.revoke().catch(() => undefined);
  }

  /** A cluster's load over [fromMs, toMs), this replica's and every other replica's. */
  async totals(cluster: string, fromMs: number, toMs: number): Promise<LoadTotals> {
    const own = this.loads.totals(cluster, fromMs, toMs);
    if (this.coord.kind === 'memory') return own;
    const { kvs } = await this.coord.list(KEYS.load);
    const buckets: LoadBucket[] = [];
    let reporters = own.reporters;
    for (const kv of kvs) {
      let p: Published;
      try {
        p = JSON.parse(kv.value) as Published;
      } catch {
        continue;
      }
      if (p.replica === this.replica.id) continue;
      const mine = (p.clusters[cluster] ?? []).filter((b) => b.second >= Math.floor(fromMs / 1000) && b.second < Math.floor(toMs / 1000));
      if (mine.length) reporters++;
      buckets.push(...mine);
    }
    const remote = sum(buckets);
    return { issued: own.issued + remote.issued, succeeded: own.succeeded + remote.succeeded, errored: own.errored + remote.errored, dropped: own.dropped + remote.dropped, reporters };
  }

  private async publish(): Promise<void> {
    if (this.stopped) return;
    const now = Date.now();
    const clusters = this.loads.clusters(now - WINDOW_MS);
    if (!clusters.length) return;
    try {
      if (!this.lease) {
        this.lease = await this.coord.grantLease(this.config.LEADER_TTL_SECONDS);
        this.lease.onLost(() => (this.lease = undefined));
      }
      const value: Published = { replica: this.replica.id, clusters: Object.fromEntries(clusters.map((c) => [c, this.loads.buckets(c, now - WINDOW_MS, now + 1000)])) };
      await this.coord.put(`${KEYS.load}${this.replica.id}`, JSON.stringify(value), { lease: this.lease.id });
    } catch (e) {
      this.log.debug(`could not publish load reports: ${(e as Error).message}`);
    }
  }
}
