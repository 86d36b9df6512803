import { EventEmitter } from 'node:events';
import { parseContent } from '../common/config-format.js';
import { DiskCache } from './cache.js';
import { GrpcTransport, HttpTransport, type Session, type Transport, type WireUpdate } from './transports.js';

/** How to reach the control plane and who this instance is. */
export interface ConfigClientOptions {
  /** gRPC targets (`host:port` of the management gRPC port) or, with transport http, base URLs. Tried in turn. */
  servers: string[];
  /** Default grpc (a server stream); http long-polls /api/v1/configs/watch. */
  transport?: 'grpc' | 'http';
  /** A token with the viewer role (scoped to the namespace, ideally), when the server runs AUTH_MODE=token. */
  token?: string;
  namespace: string;
  group: string;
  /** The configs to follow; default: every config of the group. */
  names?: string[];
  /** Who this instance is: gray release by percentage hashes it. A registered endpoint as `service/name` gets that endpoint's labels. */
  instanceId?: string;
  labels?: Record<string, string>;
  /** Keep the last config on disk here, so the app starts on it when the control plane is down. */
  cacheDir?: string;
  /** Reconnect backoff: the first wait, the cap (ms). Each wait is jittered to 50–100 % of its value. */
  backoff?: { initialMs?: number; maxMs?: number };
  /** start() gives up waiting for the server after this long and goes on with the cache (default 5000 ms). */
  startTimeoutMs?: number;
  /** Long poll: how long the server holds a poll (default 30000 ms). */
  pollTimeoutMs?: number;
  /** Acknowledge each revision after the change handlers ran (default true). */
  ack?: boolean;
}

/** One config as this instance holds it. */
export interface ConfigValue {
  namespace: string;
  group: string;
  name: string;
  revision: number;
  format: string;
  content: string;
  /** This instance got the gray release's candidate. */
  gray: boolean;
  /** Loaded from the on-disk cache, not (yet) confirmed by the server. */
  fromCache: boolean;
  /** The content parsed by its format: an object for yaml and json, a string map for properties, the text for text. */
  parsed<T = unknown>(): T;
}

export type ChangeHandler = (name: string, now: ConfigValue | undefined, previous: ConfigValue | undefined) => void | Promise<void>;

function valueOf(u: Omit<WireUpdate, 'deleted'>, fromCache: boolean): ConfigValue {
  let parsed: { v: unknown } | undefined;
  return {
    namespace: u.namespace,
    group: u.group,
    name: u.name,
    revision: u.revision,
    format: u.format,
    content: u.content,
    gray: u.gray,
    fromCache,
    parsed<T>() {
      parsed ??= { v: parseContent(u.format, u.content) };
      return parsed.v as T;
    },
  };
}

/**
 * A config centre client for apps: holds the configs of one namespace and
 * group, keeps them current over a push stream (never a poll loop on a
 * timer), survives control plane restarts and failovers (backoff with
 * jitter over the server list; it resumes from what it holds, so it misses
 * no revision: it gets the latest of each config), starts from its disk
 * cache when the control plane is down, and acknowledges what it applied.
 *
 * Events: `change` (name, now, previous), `connected` (server), `disconnected` (error), `error` (error).
 */
export class ConfigClient extends EventEmitter {
  private readonly held = new Map<string, ConfigValue>();
  private readonly handlers = new Set<ChangeHandler>();
  private readonly transports: Transport[];
  private readonly cache?: DiskCache;
  private session?: Session;
  private next = 0;
  private attempt = 0;
  private closed = false;
  private timer?: NodeJS.Timeout;
  private chain: Promise<void> = Promise.resolve();
  private syncedOnce = false;
  private readonly syncWaiters: (() => void)[] = [];

  constructor(private readonly o: ConfigClientOptions) {
    super();
    if (!o.servers.length) throw new Error('ConfigClient: servers must list at least one server');
    this.transports = o.servers.map((s) => ((o.transport ?? 'grpc') === 'http' ? new HttpTransport(s.replace(/\/$/, ''), o.pollTimeoutMs, o.token) : new GrpcTransport(s, o.token)));
    if (o.cacheDir) this.cache = new DiskCache(o.cacheDir);
    // An 'error' event with no listener would throw: the client reports, the app decides.
    this.on('error', () => undefined);
  }

  /**
   * Loads the disk cache, connects, and resolves once the server has sent the
   * initial state, or, if it cannot be reached in startTimeoutMs, with what
   * the cache held (see ConfigValue.fromCache).
   */
  async start(): Promise<void> {
    for (const c of (await this.cache?.load(this.o.namespace, this.o.group)) ?? []) {
      if (this.o.names?.length && !this.o.names.includes(c.name)) continue;
      this.held.set(c.name, valueOf(c, true));
    }
    this.connect();
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, this.o.startTimeoutMs ?? 5000);
      this.syncWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** The config as held now. */
  get(name: string): ConfigValue | undefined {
    return this.held.get(name);
  }

  /** Every config held now. */
  all(): ConfigValue[] {
    return [...this.held.values()];
  }

  /** Whether the initial state came from a server (at least once). */
  get synced(): boolean {
    return this.syncedOnce;
  }

  /** Calls `fn` on every change, in order, one at a time; its completion is the acknowledgement (a throw acknowledges with the error). */
  watch(fn: ChangeHandler): () => void {
    this.handlers.add(fn);
    return () => this.handlers.delete(fn);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.session?.close();
    await this.chain;
    for (const t of this.transports) t.close();
  }

  private known(): Record<string, number> {
    return Object.fromEntries([...this.held].map(([n, v]) => [n, v.revision]));
  }

  private connect(): void {
    if (this.closed) return;
    const t = this.transports[this.next % this.transports.length];
    let synced = false;
    this.session = t.open(
      { namespace: this.o.namespace, group: this.o.group, names: this.o.names ?? [], instanceId: this.o.instanceId ?? '', labels: this.o.labels ?? {}, known: this.known() },
      {
        update: (u) => this.enqueue(t, u),
        synced: () => {
          synced = true;
          this.attempt = 0;
          this.emit('connected', t.server);
          // After the initial updates have been applied: then the app holds what the server says.
          this.chain = this.chain.then(() => {
            // Cached values the server did not resend are confirmed as they are.
            for (const [n, v] of this.held) if (v.fromCache) this.held.set(n, { ...v, fromCache: false });
            this.syncedOnce = true;
            for (const w of this.syncWaiters.splice(0)) w();
          });
        },
        ended: (err) => {
          if (this.closed) return;
          this.emit('disconnected', err);
          // Failing before the first sync: start() need not wait for the timeout when a cache can serve.
          if (!this.syncedOnce && this.held.size && !synced) for (const w of this.syncWaiters.splice(0)) w();
          this.next++;
          const base = Math.min(this.o.backoff?.maxMs ?? 5000, (this.o.backoff?.initialMs ?? 200) * 2 ** this.attempt++);
          this.timer = setTimeout(() => this.connect(), base * (0.5 + Math.random() / 2));
        },
      },
      () => this.known(),
    );
  }

  /** Applies updates one at a time, in order: cache, handlers, acknowledgement. */
  private enqueue(t: Transport, u: WireUpdate): void {
    this.chain = this.chain.then(async () => {
      const previous = this.held.get(u.name);
      const now = u.deleted ? undefined : valueOf(u, false);
      if (now) this.held.set(u.name, now);
      else this.held.delete(u.name);
      try {
        if (u.deleted) await this.cache?.remove(u.namespace, u.group, u.name);
        else await this.cache?.save(u);
      } catch (e) {
        this.emit('error', new Error(`cache: ${(e as Error).message}`));
      }
      let failure: string | undefined;
      for (const h of [...this.handlers]) {
        try {
          await h(u.name, now, previous);
        } catch (e) {
          failure = (e as Error).message || String(e);
        }
      }
      this.emit('change', u.name, now, previous);
      if (now && (this.o.ack ?? true) && this.o.instanceId)
        await t.ack({ namespace: u.namespace, group: u.group, name: u.name }, this.o.instanceId, u.revision, failure).catch((e) => this.emit('error', new Error(`ack: ${(e as Error).message}`)));
    });
  }
}
