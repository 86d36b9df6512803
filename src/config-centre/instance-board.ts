import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { AppConfig } from '../config/config.js';
import { COORDINATION, type Coordination, KEYS, type LeaseHandle } from '../coordination/coordination.js';
import { Replica } from '../coordination/coordination.module.js';
import type { Instance } from './gray.js';

export type Transport = 'grpc' | 'long-poll' | 'sse';

/** What one instance holds of one config, as the config's instances view shows it. */
export interface InstanceEntry {
  instanceId: string;
  labels: Record<string, string>;
  transport: Transport;
  /** The replica serving it. */
  replica: string;
  /** The revision last sent to it (absent: the config was deleted, or nothing sent yet). */
  delivered?: number;
  /** Whether what it was sent is the gray candidate. */
  gray: boolean;
  /** The revision it says it applied (its acknowledgement). */
  applied?: number;
  appliedAt?: string;
  /** Why it could not apply `delivered`, if it said so. */
  error?: string;
  /** An open stream (or a long poll waiting) on the serving replica. */
  watching: boolean;
  seenAt: string;
}

interface Local {
  key: string;
  entry: InstanceEntry;
  dirty: boolean;
  /** To delete from coordination (the last stream closed). */
  remove: boolean;
}

/** A long-polling instance counts as watching for this long after its last poll. */
const LONG_POLL_LINGER_MS = 90_000;
const FLUSH_MS = 200;

/**
 * Which revision every watching instance was sent and has applied, per
 * config. Each replica keeps its own instances and publishes them to
 * coordination on its lease (so they vanish with the replica), batched: one
 * put per changed instance per flush, however many updates it got.
 */
@Injectable()
export class InstanceBoard implements OnModuleInit, BeforeApplicationShutdown {
  private readonly log = new Logger('InstanceBoard');
  private readonly local = new Map<string, Local>();
  private lease?: LeaseHandle;
  private timer?: NodeJS.Timeout;
  private flushing?: Promise<void>;
  private stopped = false;

  constructor(
    @Inject(COORDINATION) private readonly coord: Coordination,
    private readonly replica: Replica,
    @Inject(AppConfig) private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.timer = setInterval(() => void this.flush(), FLUSH_MS);
    this.timer.unref();
  }

  /** The instance was sent `revision` of a config (or told it is deleted), or is watching what it already holds. */
  delivered(namespace: string, group: string, name: string, inst: Instance, transport: Transport, revision: number | undefined, gray: boolean | undefined): void {
    if (!inst.id) return;
    const l = this.entry(namespace, group, name, inst, transport);
    l.entry.delivered = revision;
    // Undefined: what it holds is not known to be either (it watches from a revision it already had).
    if (gray !== undefined) l.entry.gray = gray;
    if (revision === undefined) delete l.entry.applied;
  }

  /** The last watch of this instance on this replica ended. */
  gone(namespace: string, group: string, name: string, instanceId: string, transport: Transport): void {
    const l = this.local.get(keyOf(namespace, group, name, instanceId));
    if (!l) return;
    l.entry.seenAt = new Date().toISOString();
    l.entry.watching = false;
    l.dirty = true;
    // A long poller polls again soon (swept if it does not); a closed stream is gone.
    if (transport !== 'long-poll') l.remove = true;
  }

  /** The instance applied `revision` (or failed to, with `error`). */
  ack(namespace: string, group: string, name: string, instanceId: string, revision: number, error?: string): void {
    const key = keyOf(namespace, group, name, instanceId);
    let l = this.local.get(key);
    if (!l) {
      // It watches through another replica (or polled long ago): record the acknowledgement anyway.
      l = { key, dirty: true, remove: false, entry: { instanceId, labels: {}, transport: 'long-poll', replica: this.replica.id, gray: false, watching: false, seenAt: new Date().toISOString() } };
      this.local.set(key, l);
    }
    if (error) l.entry.error = error.slice(0, 1024);
    else {
      l.entry.applied = revision;
      l.entry.appliedAt = new Date().toISOString();
      delete l.entry.error;
    }
    l.dirty = true;
    l.remove = false;
  }

  /** Every instance of a config, on every replica. */
  async list(namespace: string, group: string, name: string): Promise<InstanceEntry[]> {
    const prefix = `${KEYS.configInstances}${namespace}/${group}/${name}/`;
    const byId = new Map<string, InstanceEntry>();
    try {
      for (const kv of (await this.coord.list(prefix)).kvs) {
        try {
          const e = JSON.parse(kv.value) as InstanceEntry;
          byId.set(e.instanceId, e);
        } catch {
          /* not ours */
        }
      }
    } catch (e) {
      this.log.debug(`instances of ${namespace}/${group}/${name} from this replica only: ${(e as Error).message}`);
    }
    // This replica's own view is the freshest (it may not be flushed yet).
    for (const l of this.local.values()) {
      if (!l.key.startsWith(prefix)) continue;
      if (l.remove) byId.delete(l.entry.instanceId);
      else byId.set(l.entry.instanceId, l.entry);
    }
    return [...byId.values()].sort((a, b) => (a.instanceId < b.instanceId ? -1 : 1));
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.flushing;
    // The lease takes this replica's entries with it.
    await this.lease?.revoke().catch(() => undefined);
  }

  private stamp = { ms: 0, iso: '' };

  /** The time as ISO text, made at most once a millisecond: a fan-out to 10,000 watchers stamps them all alike. */
  private now(): string {
    const ms = Date.now();
    if (ms !== this.stamp.ms) this.stamp = { ms, iso: new Date(ms).toISOString() };
    return this.stamp.iso;
  }

  private entry(namespace: string, group: string, name: string, inst: Instance, transport: Transport): Local {
    const key = keyOf(namespace, group, name, inst.id);
    let l = this.local.get(key);
    const seenAt = this.now();
    if (!l) {
      l = { key, dirty: true, remove: false, entry: { instanceId: inst.id, labels: inst.labels, transport, replica: this.replica.id, gray: false, watching: true, seenAt } };
      this.local.set(key, l);
    }
    Object.assign(l.entry, { labels: inst.labels, transport, replica: this.replica.id, watching: true, seenAt });
    l.dirty = true;
    l.remove = false;
    return l;
  }

  private flush(): Promise<void> {
    if (this.flushing || this.stopped) return this.flushing ?? Promise.resolve();
    this.flushing = this.doFlush().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private async doFlush(): Promise<void> {
    const now = Date.now();
    for (const l of this.local.values())
      if (!l.entry.watching && !l.remove && now - Date.parse(l.entry.seenAt) > LONG_POLL_LINGER_MS) {
        l.remove = true;
        l.dirty = true;
      }
    const dirty = [...this.local.values()].filter((l) => l.dirty);
    if (!dirty.length) return;
    try {
      if (!this.lease) {
        const lease = await this.coord.grantLease(Math.max(this.config.LEADER_TTL_SECONDS, 10));
        lease.onLost(() => {
          if (this.lease !== lease) return;
          this.lease = undefined;
          for (const l of this.local.values()) l.dirty = true; // gone with the lease: publish everything again
        });
        this.lease = lease;
      }
    } catch (e) {
      this.log.debug(`cannot publish config instances: ${(e as Error).message}`);
      return;
    }
    const lease = this.lease.id;
    for (let i = 0; i < dirty.length; i += 64)
      await Promise.all(
        dirty.slice(i, i + 64).map(async (l) => {
          l.dirty = false;
          const remove = l.remove;
          try {
            if (remove) await this.coord.delete(l.key);
            else await this.coord.put(l.key, JSON.stringify(l.entry), { lease });
            if (remove && l.remove && !l.dirty) this.local.delete(l.key);
          } catch {
            l.dirty = true;
          }
        }),
      );
  }
}

function keyOf(namespace: string, group: string, name: string, instanceId: string): string {
  return `${KEYS.configInstances}${namespace}/${group}/${name}/${encodeURIComponent(instanceId)}`;
}
