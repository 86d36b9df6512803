import { Etcd3, type IKeyValue, type Lease, LeaseClient } from 'etcd3';
import { CompactedError, type Coordination, type KeyValue, type LeaseHandle, type Watch, type WatchHandlers } from './coordination.js';

const toKv = (kv: IKeyValue): KeyValue => ({
  key: kv.key.toString(),
  value: kv.value.toString(),
  createRevision: Number(kv.create_revision),
  modRevision: Number(kv.mod_revision),
  lease: String(kv.lease ?? '0'),
});

/**
 * Whether a watch failure from etcd3 is a compaction. etcd cancels a watch
 * whose start revision was compacted with `compact_revision` set and no
 * `cancel_reason` (server v3rpc watch.go: `Canceled: CompactRevision != 0`),
 * and etcd3 passes on only the reason, as "Watcher canceled: " followed by
 * nothing. Every other cancellation carries a reason (permission denied, an
 * empty key range, ...), and stream errors ("context canceled", "Cancelled on
 * client") are connection trouble, not lost history.
 */
export function isCompaction(err: Error): boolean {
  return /^Watcher canceled:\s*$/.test(err.message) || /required revision has been compacted/.test(err.message);
}

/**
 * Coordination on etcd through the `etcd3` client. The client is dormant
 * upstream, so everything it does is kept behind this one class.
 */
export class EtcdCoordination implements Coordination {
  readonly kind = 'etcd' as const;
  private readonly client: Etcd3;
  private readonly keepAliveStreams: (Promise<any> | undefined)[] = new Array(4).fill(undefined);
  private readonly pendingKeepAlives = new Map<string, (ttl: number) => void>();
  private readonly inFlight = new Map<string, Promise<number>>();
  private readonly held = new Set<Lease>();
  private closed = false;
  /** Live watchers, cancelled before the client closes (etcd3 would otherwise keep reconnecting them). */
  private readonly watchers = new Set<{ cancel(): Promise<void> }>();

  // After close, nothing may touch the client again: a late call would open a new connection and keep the process alive.
  private open(): Etcd3 {
    if (this.closed) throw new Error('coordination is closed');
    return this.client;
  }

  constructor(endpoints: string[], private readonly callTimeoutMs = 5000) {
    // Unary calls get a deadline; streams (watch, keepalive) must not, or they die after it.
    this.client = new Etcd3({ hosts: endpoints, dialTimeout: 3000, defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + this.callTimeoutMs }) });
  }

  async get(key: string): Promise<KeyValue | undefined> {
    const res = await this.open().get(key).exec();
    return res.kvs[0] ? toKv(res.kvs[0]) : undefined;
  }

  async getWithRevision(key: string): Promise<{ kv: KeyValue | undefined; revision: number }> {
    const res = await this.open().get(key).exec();
    return { kv: res.kvs[0] ? toKv(res.kvs[0]) : undefined, revision: Number(res.header.revision) };
  }

  async list(prefix: string): Promise<{ kvs: KeyValue[]; revision: number }> {
    const res = await this.open().getAll().prefix(prefix).exec();
    return { kvs: res.kvs.map(toKv), revision: Number(res.header.revision) };
  }

  async put(key: string, value: string, opts: { lease?: string } = {}): Promise<number> {
    const b = this.open().put(key).value(value);
    if (opts.lease && opts.lease !== '0') b.lease(opts.lease);
    const res = await b.exec();
    return Number(res.header.revision);
  }

  async delete(key: string): Promise<boolean> {
    const res = await this.open().delete().key(key).exec();
    return Number(res.deleted) > 0;
  }

  async create(key: string, value: string, opts: { lease?: string } = {}): Promise<number | undefined> {
    const put = this.open().put(key).value(value);
    if (opts.lease && opts.lease !== '0') put.lease(opts.lease);
    const res = await this.open().if(key, 'Create', '==', 0).then(put).commit();
    return res.succeeded ? Number(res.header.revision) : undefined;
  }

  async putIf(guard: { key: string; createRevision: number }, key: string, value: string | null): Promise<boolean> {
    const op = value === null ? this.open().delete().key(key) : this.open().put(key).value(value);
    const res = await this.open().if(guard.key, 'Create', '==', guard.createRevision).then(op).commit();
    return res.succeeded;
  }

  watch(prefix: string, fromRevision: number, handlers: WatchHandlers): Watch {
    let cancelled = false;
    /**
     * etcd3 dropped the watcher itself (it reported an error or its end). It must
     * not be cancelled then: etcd3 would send etcd a cancel for a watch id it no
     * longer tracks, possibly one a later stream gave another watcher, and it
     * throws (uncaught, from a stream handler: the process dies) on the answer.
     */
    let dropped = false;
    // watcher(), not create(): create() resolves on 'connected' a microtask late, and an error etcd sends right after the
    // creation (a compacted start revision) is emitted before listeners added then exist: it was lost and the watch hung.
    const watcher = this.open().watch().prefix(prefix).startRevision(String(fromRevision)).watcher();
    const fail = (err: Error) => {
      dropped = true;
      if (cancelled) return;
      cancelled = true;
      this.watchers.delete(watcher);
      // The watcher resumes from after the last revision it saw, so that is the revision that was compacted away.
      handlers.error(isCompaction(err) ? new CompactedError(`revision ${watcher.lastRevision() ?? fromRevision} has been compacted (${err.message.trim()})`) : err);
    };
    this.watchers.add(watcher);
    watcher.on('put', (kv) => !cancelled && handlers.event({ type: 'put', kv: toKv(kv) }));
    watcher.on('delete', (kv) => !cancelled && handlers.event({ type: 'delete', kv: toKv(kv) }));
    watcher.on('error', (e) => fail(e));
    watcher.on('end', () => fail(new Error('watch ended')));
    return {
      cancel: () => {
        cancelled = true;
        this.watchers.delete(watcher);
        if (!dropped) void watcher.cancel().catch(() => undefined);
      },
    };
  }

  async grantLease(ttlSeconds: number): Promise<LeaseHandle> {
    const lease = this.open().lease(ttlSeconds);
    this.held.add(lease);
    const id = await lease.grant();
    return {
      id,
      ttl: ttlSeconds,
      onLost: (fn) => lease.on('lost', (e) => fn(e)),
      revoke: async () => {
        if (this.closed || !this.held.delete(lease)) return;
        await lease.revoke().catch(() => undefined);
      },
    };
  }

  async grantPassiveLease(ttlSeconds: number): Promise<string> {
    const res = await new LeaseClient((this.open() as any).pool).leaseGrant({ TTL: ttlSeconds, ID: 0 });
    return String(res.ID);
  }

  /** Keepalives for arbitrary lease ids share one LeaseKeepAlive stream: a heartbeat is one small message. */
  async keepAlive(leaseId: string): Promise<number> {
    // One request per lease in flight: concurrent heartbeats for it share the answer.
    const inFlight = this.inFlight.get(leaseId);
    if (inFlight) return inFlight;
    const p = this.sendKeepAlive(leaseId).finally(() => this.inFlight.delete(leaseId));
    this.inFlight.set(leaseId, p);
    return p;
  }

  private async sendKeepAlive(leaseId: string): Promise<number> {
    // A lease always uses the same stream, so its responses come back in order.
    const i = Number(BigInt(leaseId) % BigInt(this.keepAliveStreams.length));
    const stream = await this.keepAliveChannel(i);
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pendingKeepAlives.delete(leaseId);
        reject(new Error('etcd keepalive timed out'));
      }, this.callTimeoutMs);
      this.pendingKeepAlives.set(leaseId, (ttl) => {
        clearTimeout(timer);
        resolve(ttl);
      });
      stream.write({ ID: leaseId });
    });
  }

  async revoke(leaseId: string): Promise<void> {
    await new LeaseClient((this.open() as any).pool).leaseRevoke({ ID: leaseId }).catch((e: Error) => {
      if (!/not found/i.test(e.message)) throw e;
    });
  }

  async ping(timeoutMs = 2000): Promise<void> {
    await Promise.race([
      this.open().get('/switchyard/ping').exec(),
      new Promise((_, reject) => setTimeout(() => reject(new Error(`etcd did not answer within ${timeoutMs} ms`)), timeoutMs).unref()),
    ]);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    const held = [...this.held];
    this.held.clear();
    await Promise.all(held.map((l) => Promise.race([l.revoke().catch(() => undefined), new Promise((r) => setTimeout(r, 2000).unref())])));
    this.closed = true;
    const watchers = [...this.watchers];
    this.watchers.clear();
    await Promise.all(watchers.map((w) => Promise.race([w.cancel().catch(() => undefined), new Promise((r) => setTimeout(r, 1000).unref())])));
    this.client.close();
  }

  private keepAliveChannel(i: number): Promise<any> {
    let ch = this.keepAliveStreams[i];
    if (!ch) {
      ch = new LeaseClient((this.open() as any).pool).leaseKeepAlive().then((stream: any) => {
        stream.on('data', (res: { ID: string; TTL: string }) => {
          const fn = this.pendingKeepAlives.get(String(res.ID));
          this.pendingKeepAlives.delete(String(res.ID));
          fn?.(Number(res.TTL));
        });
        const reset = () => {
          if (this.keepAliveStreams[i] === ch) this.keepAliveStreams[i] = undefined;
        };
        stream.on('error', reset);
        stream.on('end', reset);
        return stream;
      });
      ch.catch(() => {
        if (this.keepAliveStreams[i] === ch) this.keepAliveStreams[i] = undefined;
      });
      this.keepAliveStreams[i] = ch;
    }
    return ch;
  }
}
