import { CompactedError, type Coordination, type KeyValue, type LeaseHandle, type Watch, type WatchEvent, type WatchHandlers } from './coordination.js';

interface MemLease {
  id: string;
  ttl: number;
  expiresAt: number;
  keys: Set<string>;
  timer?: NodeJS.Timeout;
  lost: ((e: Error) => void)[];
  auto?: NodeJS.Timeout;
}

/**
 * The in-memory twin of etcd for one process (the embedded default): same
 * revisions, watch-from-revision, lease expiry and guarded writes.
 */
export class MemoryCoordination implements Coordination {
  readonly kind = 'memory' as const;
  private revision = 0;
  private readonly data = new Map<string, KeyValue>();
  private readonly leases = new Map<string, MemLease>();
  private readonly history: WatchEvent[] = [];
  /** Revisions at or below this are gone from history (like etcd compaction). */
  private compactedAt = 0;
  private readonly watchers = new Set<{ prefix: string; handlers: WatchHandlers }>();
  private nextLease = 1;
  private closed = false;

  constructor(private readonly historyLimit = 10000) {}

  async get(key: string): Promise<KeyValue | undefined> {
    return this.data.get(key);
  }

  async getWithRevision(key: string): Promise<{ kv: KeyValue | undefined; revision: number }> {
    return { kv: this.data.get(key), revision: this.revision };
  }

  async list(prefix: string): Promise<{ kvs: KeyValue[]; revision: number }> {
    const kvs = [...this.data.values()].filter((kv) => kv.key.startsWith(prefix)).sort((a, b) => (a.key < b.key ? -1 : 1));
    return { kvs, revision: this.revision };
  }

  async put(key: string, value: string, opts: { lease?: string } = {}): Promise<number> {
    return this.write(key, value, opts.lease);
  }

  async delete(key: string): Promise<boolean> {
    return this.remove(key);
  }

  async create(key: string, value: string, opts: { lease?: string } = {}): Promise<number | undefined> {
    if (this.data.has(key)) return undefined;
    return this.write(key, value, opts.lease);
  }

  async putIf(guard: { key: string; createRevision: number }, key: string, value: string | null): Promise<boolean> {
    if (this.data.get(guard.key)?.createRevision !== guard.createRevision) return false;
    if (value === null) this.remove(key);
    else this.write(key, value, this.data.get(key)?.lease);
    return true;
  }

  watch(prefix: string, fromRevision: number, handlers: WatchHandlers): Watch {
    const w = { prefix, handlers };
    const oldest = this.history[0]?.kv.modRevision ?? this.revision + 1;
    if (fromRevision <= this.compactedAt || (fromRevision < oldest && fromRevision <= this.revision && this.history.length >= this.historyLimit)) {
      queueMicrotask(() => handlers.error(new CompactedError(`revision ${fromRevision} has been compacted`)));
      return { cancel: () => undefined };
    }
    const backlog = this.history.filter((e) => e.kv.modRevision >= fromRevision && e.kv.key.startsWith(prefix));
    // Backlog first, then live events: both are delivered in microtask order.
    this.watchers.add(w);
    queueMicrotask(() => {
      for (const e of backlog) if (this.watchers.has(w)) handlers.event(e);
    });
    return { cancel: () => this.watchers.delete(w) };
  }

  async grantLease(ttlSeconds: number): Promise<LeaseHandle> {
    const lease = this.newLease(ttlSeconds);
    lease.auto = setInterval(() => this.touch(lease.id), Math.max(100, (ttlSeconds * 1000) / 3));
    lease.auto.unref();
    return {
      id: lease.id,
      ttl: ttlSeconds,
      onLost: (fn) => lease.lost.push(fn),
      revoke: () => this.revoke(lease.id),
    };
  }

  async grantPassiveLease(ttlSeconds: number): Promise<string> {
    return this.newLease(ttlSeconds).id;
  }

  async keepAlive(leaseId: string): Promise<number> {
    return this.touch(leaseId);
  }

  async revoke(leaseId: string): Promise<void> {
    this.expire(leaseId, false);
  }

  /** Drops history up to `revision`: watches from before it fail, as in etcd. */
  compact(revision: number): void {
    this.compactedAt = Math.max(this.compactedAt, revision);
    while (this.history.length && this.history[0].kv.modRevision <= revision) this.history.shift();
  }

  async ping(): Promise<void> {
    if (this.closed) throw new Error('closed');
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const l of this.leases.values()) {
      clearTimeout(l.timer);
      clearInterval(l.auto);
    }
    this.watchers.clear();
  }

  private newLease(ttl: number): MemLease {
    const lease: MemLease = { id: String(this.nextLease++), ttl, expiresAt: 0, keys: new Set(), lost: [] };
    this.leases.set(lease.id, lease);
    this.touch(lease.id);
    return lease;
  }

  private touch(id: string): number {
    const lease = this.leases.get(id);
    if (!lease) return 0;
    lease.expiresAt = Date.now() + lease.ttl * 1000;
    clearTimeout(lease.timer);
    lease.timer = setTimeout(() => this.expire(id, true), lease.ttl * 1000);
    lease.timer.unref();
    return lease.ttl;
  }

  private expire(id: string, lost: boolean): void {
    const lease = this.leases.get(id);
    if (!lease) return;
    this.leases.delete(id);
    clearTimeout(lease.timer);
    clearInterval(lease.auto);
    for (const k of lease.keys) this.remove(k);
    if (lost) for (const fn of lease.lost) fn(new Error(`lease ${id} expired`));
  }

  private write(key: string, value: string, lease = '0'): number {
    if (lease !== '0' && !this.leases.has(lease)) throw new Error(`lease ${lease} not found`);
    const rev = ++this.revision;
    const old = this.data.get(key);
    if (old && old.lease !== '0' && old.lease !== lease) this.leases.get(old.lease)?.keys.delete(key);
    const kv: KeyValue = { key, value, createRevision: old?.createRevision ?? rev, modRevision: rev, lease };
    this.data.set(key, kv);
    if (lease !== '0') this.leases.get(lease)!.keys.add(key);
    this.emit({ type: 'put', kv });
    return rev;
  }

  private remove(key: string): boolean {
    const old = this.data.get(key);
    if (!old) return false;
    this.data.delete(key);
    if (old.lease !== '0') this.leases.get(old.lease)?.keys.delete(key);
    const rev = ++this.revision;
    this.emit({ type: 'delete', kv: { ...old, modRevision: rev } });
    return true;
  }

  private emit(e: WatchEvent): void {
    this.history.push(e);
    if (this.history.length > this.historyLimit) this.history.shift();
    for (const w of this.watchers) if (e.kv.key.startsWith(w.prefix)) queueMicrotask(() => this.watchers.has(w) && w.handlers.event(e));
  }
}
