import type { Coordination, LeaseHandle, Watch } from './coordination.js';

/** Who leads, as shown in /ready and the proxies API. */
export interface LeaderInfo {
  id: string;
  since?: string;
}

/**
 * Leader election on the coordination port: the leader holds `key`, attached
 * to its own lease. Its fencing token is the key's create revision; writes
 * made through `fencedPut` fail once another replica has taken over.
 */
export class Election {
  private lease?: LeaseHandle;
  private token?: number;
  private watch?: Watch;
  private stopped = false;
  private retry?: NodeJS.Timeout;
  private leaderId?: string;
  private since?: string;
  private readonly listeners = new Set<(leading: boolean) => void>();

  constructor(
    private readonly coord: Coordination,
    private readonly key: string,
    readonly id: string,
    private readonly ttlSeconds: number,
  ) {}

  get isLeader(): boolean {
    return this.token !== undefined;
  }

  /** Create revision of the leader key while this replica leads. */
  get fencingToken(): number | undefined {
    return this.token;
  }

  leader(): LeaderInfo | undefined {
    return this.leaderId ? { id: this.leaderId, ...(this.since ? { since: this.since } : {}) } : undefined;
  }

  onChange(fn: (leading: boolean) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Campaigns until stopped; re-campaigns after losing the lease or the key. */
  start(): void {
    void this.campaign();
  }

  /** A write only the current leader can make. */
  async fencedPut(key: string, value: string | null): Promise<boolean> {
    if (this.token === undefined) return false;
    return this.coord.putIf({ key: this.key, createRevision: this.token }, key, value);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    this.watch?.cancel();
    const lease = this.lease;
    this.lease = undefined;
    this.setLeading(undefined);
    await lease?.revoke().catch(() => undefined);
  }

  private async campaign(): Promise<void> {
    if (this.stopped) return;
    try {
      if (!this.lease) {
        const lease = await this.coord.grantLease(this.ttlSeconds);
        lease.onLost(() => {
          if (this.lease !== lease) return;
          this.lease = undefined;
          this.setLeading(undefined);
          this.later(0);
        });
        this.lease = lease;
      }
      const value = JSON.stringify({ id: this.id, since: new Date().toISOString() });
      const rev = await this.coord.create(this.key, value, { lease: this.lease.id });
      const { kv: current, revision } = await this.coord.getWithRevision(this.key);
      if (rev !== undefined) this.setLeading(rev);
      else if (current && current.lease === this.lease.id) this.setLeading(current.createRevision);
      else this.setLeading(undefined);
      this.observe(current);
      // Follow the key: when it goes (leader died or resigned), campaign again.
      this.watch?.cancel();
      // From the read, not from the key's modRevision: that one may be compacted away, and the watch would fail on every campaign.
      const from = revision + 1;
      this.watch = this.coord.watch(this.key, from, {
        event: (e) => {
          if (e.kv.key !== this.key) return;
          if (e.type === 'delete') {
            this.setLeading(undefined);
            this.leaderId = undefined;
            this.later(0);
          } else this.observe(e.kv);
        },
        error: () => this.later(500),
      });
    } catch {
      this.later(1000); // coordination unreachable: keep trying
    }
  }

  private observe(kv: { value: string } | undefined): void {
    if (!kv) return;
    try {
      const v = JSON.parse(kv.value) as { id: string; since?: string };
      this.leaderId = v.id;
      this.since = v.since;
    } catch {
      this.leaderId = kv.value;
    }
  }

  private later(ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.retry);
    this.retry = setTimeout(() => void this.campaign(), ms);
    this.retry.unref();
  }

  private setLeading(token: number | undefined): void {
    const was = this.isLeader;
    this.token = token;
    if (was !== this.isLeader) for (const fn of this.listeners) fn(this.isLeader);
  }
}
