import { Inject, Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { ChangeFeed, type FeedEvent } from '../feed/change-feed.js';
import type { ConfigSpec, EndpointSpec, Resource } from '../model/resources.js';
import { type LabelRequirement, parseLabelSelector } from '../registry/label-selector.js';
import { REGISTRY_STORE, type RegistryStore } from '../registry/store/registry-store.js';
import { ConfigCodec, type UpdateMessage } from './codec.js';
import { ConfigMetrics } from './config-metrics.js';
import { effectiveFor, type Effective, type Instance } from './gray.js';
import { InstanceBoard, type Transport } from './instance-board.js';

/** One update encoded once, for protobuf streams and for HTTP, and shared by every watcher that gets it. */
export interface EncodedUpdate {
  name: string;
  revision: number;
  gray: boolean;
  deleted: boolean;
  /** switchyard.v1.ConfigUpdate, serialized. */
  pb: Buffer;
  /** The same update as JSON text. */
  json: string;
}

/** What a watcher asks for. */
export interface WatchRequest {
  namespace: string;
  group: string;
  /** The configs to follow; empty: every config of the namespace and group, present and future. */
  names: string[];
  instanceId: string;
  labels: Record<string, string>;
  /** name → revision the instance already holds: not sent again unless it changes. */
  known: Record<string, number>;
  transport: Transport;
}

/** Where a watcher's updates go. `push` gets every batch; `synced` follows the initial one (even when empty); `end` is called once when the hub stops. */
export interface WatchSink {
  push(updates: EncodedUpdate[]): void;
  synced?(): void;
  end(reason: string): void;
}

/** A running watch. */
export interface WatchHandle {
  /** name → revision the watcher holds now (what it was last sent, or said it knew). */
  known(): Map<string, number>;
  close(): void;
}

interface Watcher {
  seq: number;
  scope: string;
  names?: Set<string>;
  given: Record<string, string>;
  inst: Instance;
  /** The registered endpoint behind the instance id (`service/name`), whose labels are used. */
  endpoint?: { service: string; name: string };
  known: Map<string, number>;
  sink: WatchSink;
  transport: Transport;
}

const configId = (scope: string, name: string) => `Config/${scope}/${name}`;

/**
 * Pushes configs to watching instances. It follows the change feed (so a
 * write on any replica reaches watchers on every replica), works out what
 * each instance should hold (the gray candidate or the current content), and
 * sends only what differs from what the instance holds. Each (config
 * revision, variant) is encoded once and the same bytes go to every watcher.
 */
@Injectable()
export class ConfigHub implements BeforeApplicationShutdown {
  private readonly log = new Logger('ConfigHub');
  private readonly byScope = new Map<string, Set<Watcher>>();
  private readonly byService = new Map<string, Set<Watcher>>();
  /** Configs by scope (namespace/group), then name: the mirror's configs, indexed for watchers. */
  private readonly configs = new Map<string, Map<string, Resource<ConfigSpec>>>();
  private readonly encoded = new Map<string, Map<string, EncodedUpdate>>();
  private readonly selectors = new Map<string, { version: number; reqs?: LabelRequirement[] }>();
  /** Configs this process saw deleted (until recreated): a watcher that holds one is told at once. */
  private readonly tombstones = new Set<string>();
  /** Open watches per instance (scope and id) on this replica: the instance leaves the board when its last one closes. */
  private readonly open = new Map<string, number>();
  private seq = 0;
  private loaded = false;
  private readonly waiting: (() => void)[] = [];
  private stopped = false;

  constructor(
    private readonly feed: ChangeFeed,
    private readonly board: InstanceBoard,
    @Inject(ConfigCodec) private readonly codec: ConfigCodec,
    @Inject(REGISTRY_STORE) private readonly store: RegistryStore,
    private readonly metrics: ConfigMetrics,
  ) {
    feed.subscribe((e) => this.onEvent(e));
  }

  /** Resolves once the registry has been loaded (before that, every config would look deleted). */
  ready(): Promise<void> {
    return this.loaded ? Promise.resolve() : new Promise((r) => this.waiting.push(r));
  }

  /** Number of open watches (streams, SSE, long polls waiting). */
  get watching(): number {
    let n = 0;
    for (const s of this.byScope.values()) n += s.size;
    return n;
  }

  /**
   * Starts a watch: right away, the sink gets every config the instance should
   * hold and does not (per `known`), including deletions of what it knows;
   * then every change.
   */
  watch(req: WatchRequest, sink: WatchSink): WatchHandle {
    if (this.stopped) {
      sink.end('the server is shutting down');
      return { known: () => new Map(Object.entries(req.known)), close: () => undefined };
    }
    const scope = `${req.namespace}/${req.group}`;
    const w: Watcher = {
      seq: ++this.seq,
      scope,
      names: req.names.length ? new Set(req.names) : undefined,
      given: req.labels,
      inst: { id: req.instanceId, labels: req.labels },
      known: new Map(Object.entries(req.known).filter(([n]) => !req.names.length || req.names.includes(n))),
      sink,
      transport: req.transport,
    };
    this.bindEndpoint(w);
    const ik = `${scope}\u0000${w.inst.id}`;
    this.open.set(ik, (this.open.get(ik) ?? 0) + 1);
    let set = this.byScope.get(scope);
    if (!set) this.byScope.set(scope, (set = new Set()));
    set.add(w);
    this.metrics.watchers.inc({ transport: w.transport });
    if (w.endpoint) {
      let s = this.byService.get(w.endpoint.service);
      if (!s) this.byService.set(w.endpoint.service, (s = new Set()));
      s.add(w);
    }
    void this.ready().then(async () => {
      // Read-your-writes: a watch started right after a write sees it in its initial state.
      await this.feed.caughtUp();
      if (!set!.has(w)) return;
      const unsure: string[] = [];
      const updates = this.evaluate(w, undefined, unsure);
      const sent = new Set(updates.map((u) => u.name));
      // What it already holds is not sent, but it is shown as watching.
      for (const name of this.interesting(w)) if (!sent.has(name)) this.board.delivered(req.namespace, req.group, name, w.inst, w.transport, w.known.get(name), this.holdsGray(w, name));
      this.deliver(w, updates);
      await this.confirmAbsent(w, unsure);
      if (set!.has(w)) w.sink.synced?.();
    });
    return { known: () => new Map(w.known), close: () => this.unwatch(w) };
  }

  /**
   * What one instance gets of `cfg` (read from the store by the caller, so a
   * Get right after a write sees it), encoded as watchers get it.
   */
  encodedFor(cfg: Resource<ConfigSpec>, inst: Instance): EncodedUpdate {
    const scope = `${cfg.namespace}/${cfg.group}`;
    const w = { scope, given: inst.labels, inst: { ...inst }, known: new Map() } as unknown as Watcher;
    this.bindEndpoint(w);
    return this.encode(scope, cfg, effectiveFor(cfg, this.selector(cfg, scope), configId(scope, cfg.name), w.inst));
  }

  beforeApplicationShutdown(): void {
    this.stopped = true;
    for (const set of this.byScope.values()) for (const w of [...set]) {
      this.unwatch(w);
      w.sink.end('the server is shutting down');
    }
  }

  private unwatch(w: Watcher): void {
    const set = this.byScope.get(w.scope);
    if (!set?.delete(w)) return;
    this.metrics.watchers.dec({ transport: w.transport });
    if (!set.size) this.byScope.delete(w.scope);
    if (w.endpoint) {
      const s = this.byService.get(w.endpoint.service);
      s?.delete(w);
      if (s && !s.size) this.byService.delete(w.endpoint.service);
    }
    const ik = `${w.scope}\u0000${w.inst.id}`;
    const left = (this.open.get(ik) ?? 1) - 1;
    if (left) return void this.open.set(ik, left);
    this.open.delete(ik);
    if (this.stopped) return; // the board's lease goes with the replica
    const [namespace, group] = splitScope(w.scope);
    for (const name of new Set([...this.interesting(w), ...w.known.keys()])) this.board.gone(namespace, group, name, w.inst.id, w.transport);
  }

  private onEvent(e: FeedEvent): void {
    const mirror = this.feed.mirror;
    const changed = new Map<string, Set<string>>();
    if (e.full || !this.loaded) {
      this.configs.clear();
      this.encoded.clear();
      for (const c of mirror.of<ConfigSpec>('Config')) this.index(c);
      for (const set of this.byScope.values()) for (const w of set) changed.set(w.scope, new Set<string>());
    } else {
      for (const c of e.changes) {
        if (c.kind !== 'Config') continue;
        const scope = `${c.namespace}/${c.group}`;
        const id = configId(scope, c.name);
        this.encoded.delete(id);
        this.selectors.delete(id);
        const now = mirror.byId<ConfigSpec>(id);
        if (now) {
          this.index(now);
          this.tombstones.delete(id);
        } else {
          this.configs.get(scope)?.delete(c.name);
          this.tombstones.add(id);
        }
        let names = changed.get(scope);
        if (!names) changed.set(scope, (names = new Set()));
        names.add(c.name);
      }
    }
    // Instances that are registered endpoints: their labels may have changed.
    const relabelled = new Set<Watcher>();
    for (const service of e.full ? this.byService.keys() : e.endpointServices)
      for (const w of this.byService.get(service) ?? []) {
        const before = JSON.stringify(w.inst.labels);
        this.bindEndpoint(w);
        if (JSON.stringify(w.inst.labels) !== before) relabelled.add(w);
      }
    if (!this.loaded) {
      this.loaded = true;
      for (const r of this.waiting.splice(0)) r();
      return; // watchers registered before the load are evaluated by their ready() callbacks
    }
    for (const [scope, names] of changed)
      for (const w of this.byScope.get(scope) ?? []) {
        if (relabelled.has(w)) continue;
        const mine = names.size ? [...names].filter((n) => !w.names || w.names.has(n)) : undefined;
        if (mine && !mine.length) continue;
        this.update(w, mine);
      }
    for (const w of relabelled) this.update(w, undefined);
  }

  private index(c: Resource<ConfigSpec>): void {
    const scope = `${c.namespace}/${c.group}`;
    let m = this.configs.get(scope);
    if (!m) this.configs.set(scope, (m = new Map()));
    m.set(c.name, c);
  }

  /** The config names a watcher follows now: its list, or every config of its scope. */
  private interesting(w: Watcher): string[] {
    return w.names ? [...w.names] : [...(this.configs.get(w.scope)?.keys() ?? [])];
  }

  /** Whether what the watcher holds of `name` is the gray candidate (undefined: this replica cannot tell). */
  private holdsGray(w: Watcher, name: string): boolean | undefined {
    const cfg = this.configs.get(w.scope)?.get(name);
    const known = w.known.get(name);
    if (!cfg || known === undefined) return undefined;
    const eff = effectiveFor(cfg, this.selector(cfg, w.scope), configId(w.scope, name), w.inst);
    return eff.revision === known ? eff.gray : undefined;
  }

  private update(w: Watcher, names: string[] | undefined): void {
    const unsure: string[] = [];
    this.deliver(w, this.evaluate(w, names, unsure));
    if (unsure.length) void this.confirmAbsent(w, unsure);
  }

  /**
   * A watcher holds configs this replica's mirror lacks and never saw deleted:
   * either they are gone for good (deleted before this process started) or
   * this replica is behind (the watcher came from a replica ahead). The store
   * decides; deletion is only sent for what it does not have either.
   */
  private async confirmAbsent(w: Watcher, names: string[]): Promise<void> {
    const gone: EncodedUpdate[] = [];
    for (const name of names) {
      let exists: boolean;
      try {
        exists = !!(await this.store.get({ kind: 'Config', scope: w.scope, name }));
      } catch {
        continue; // the database is down: keep what the instance holds
      }
      if (exists || this.configs.get(w.scope)?.has(name) || !w.known.has(name)) continue;
      gone.push(this.deleted(w.scope, name));
      w.known.delete(name);
    }
    if (gone.length && this.byScope.get(w.scope)?.has(w)) this.deliver(w, gone);
  }

  /** The updates a watcher needs for `names` (default: everything it follows or knows), and records them as known. */
  private evaluate(w: Watcher, names: string[] | undefined, unsure: string[]): EncodedUpdate[] {
    const scoped = this.configs.get(w.scope);
    const candidates = names ?? [...new Set([...this.interesting(w), ...w.known.keys()])];
    const out: EncodedUpdate[] = [];
    for (const name of candidates) {
      const cfg = scoped?.get(name);
      const known = w.known.get(name);
      if (!cfg) {
        if (known === undefined) continue;
        if (this.tombstones.has(configId(w.scope, name))) {
          out.push(this.deleted(w.scope, name));
          w.known.delete(name);
        } else unsure.push(name);
        continue;
      }
      // The instance holds a revision this replica has not seen yet (it failed over from one ahead): wait for the feed.
      if (known !== undefined && known > cfg.version) continue;
      const eff = effectiveFor(cfg, this.selector(cfg, w.scope), configId(w.scope, name), w.inst);
      if (known === eff.revision) continue;
      out.push(this.encode(w.scope, cfg, eff));
      w.known.set(name, eff.revision);
    }
    return out;
  }

  private deliver(w: Watcher, updates: EncodedUpdate[]): void {
    if (!updates.length) return;
    const [namespace, group] = splitScope(w.scope);
    for (const u of updates) this.board.delivered(namespace, group, u.name, w.inst, w.transport, u.deleted ? undefined : u.revision, u.gray);
    this.metrics.updates.inc({ transport: w.transport }, updates.length);
    try {
      w.sink.push(updates);
    } catch (e) {
      this.log.debug(`a watcher failed: ${(e as Error).message}`);
      this.unwatch(w);
    }
  }

  private selector(cfg: Resource<ConfigSpec>, scope: string): LabelRequirement[] | undefined {
    const id = configId(scope, cfg.name);
    const hit = this.selectors.get(id);
    if (hit && hit.version === cfg.version) return hit.reqs;
    const text = cfg.spec.gray?.target.labels;
    let reqs: LabelRequirement[] | undefined;
    try {
      reqs = text ? parseLabelSelector(text) : undefined;
    } catch {
      reqs = [{ key: '\u0000unparseable', op: 'exists', values: [] }]; // validated on write; never match rather than match all
    }
    this.selectors.set(id, { version: cfg.version, reqs });
    return reqs;
  }

  private encode(scope: string, cfg: Resource<ConfigSpec>, eff: Effective): EncodedUpdate {
    const id = configId(scope, cfg.name);
    let m = this.encoded.get(id);
    if (!m) this.encoded.set(id, (m = new Map()));
    const key = `${eff.revision}:${eff.gray}`;
    let hit = m.get(key);
    if (!hit) {
      const [namespace, group] = splitScope(scope);
      const msg: UpdateMessage = { namespace, group, name: cfg.name, revision: eff.revision, format: cfg.spec.format, content: eff.content, gray: eff.gray, deleted: false };
      hit = { name: cfg.name, revision: eff.revision, gray: eff.gray, deleted: false, pb: this.codec.encode(msg), json: JSON.stringify(msg) };
      this.metrics.encodes.inc();
      m.set(key, hit);
    }
    return hit;
  }

  private deleted(scope: string, name: string): EncodedUpdate {
    const [namespace, group] = splitScope(scope);
    const msg: UpdateMessage = { namespace, group, name, revision: 0, format: '', content: '', gray: false, deleted: true };
    return { name, revision: 0, gray: false, deleted: true, pb: this.codec.encode(msg), json: JSON.stringify(msg) };
  }

  /** An instance id `service/name` naming a registered endpoint takes that endpoint's labels (over the ones it sent). */
  private bindEndpoint(w: Watcher): void {
    const m = /^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)\/(.+)$/.exec(w.inst.id);
    if (!m) return;
    const [service, name] = [m[1], m[3]];
    w.endpoint = { service, name };
    const ep = this.feed.mirror.get<EndpointSpec>('Endpoint', name, service) ?? this.feed.heartbeat(service).find((e) => e.name === name);
    w.inst = { id: w.inst.id, labels: ep ? { ...w.given, ...(ep.spec.labels ?? {}) } : w.given };
  }
}

export function splitScope(scope: string): [string, string] {
  const i = scope.indexOf('/');
  return [scope.slice(0, i), scope.slice(i + 1)];
}
