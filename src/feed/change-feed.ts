import { context, ROOT_CONTEXT, type SpanContext } from '@opentelemetry/api';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '../config/config.js';
import { COORDINATION, type Coordination, KEYS, type Watch } from '../coordination/coordination.js';
import { HealthBoard } from '../coordination/health-board.js';
import type { Change, EndpointSpec, Kind, Resource } from '../model/resources.js';
import { type Committed, RegistryEvents } from '../registry/registry-events.js';
import { EphemeralEndpoints } from '../registry/ephemeral-endpoints.js';
import { REGISTRY_STORE, type RegistryStore } from '../registry/store/registry-store.js';
import type { EndpointSources } from '../translate/endpoints.js';
import type { TranslateInput } from '../translate/ir.js';
import { RegistryMirror } from './registry-mirror.js';

/** What one step of the feed changed. Consumers update from this and the mirror; they never re-read the store. */
export interface FeedEvent {
  /** Store revision the mirror is at now. */
  revision: number;
  /** The mirror was (re)loaded from a full read (first start, a gap, a long backlog): recompute everything. */
  full: boolean;
  /** Registry changes applied, oldest first, objects included (empty when full). */
  changes: Change[];
  /** Kinds those changes touched. */
  kinds: Set<Kind>;
  /** Services whose endpoints changed: durable endpoint writes, heartbeat endpoints, health results. */
  endpointServices: Set<string>;
  /** When the first trigger folded into this step arrived (ms since epoch). */
  changedAt: number;
  /** Triggers folded into this step by the debounce. */
  coalesced: number;
  /** Span contexts of the traced writes folded into this step (empty with tracing off): the rebuild links to them. */
  links: SpanContext[];
}

/** Most write span contexts one step keeps for its rebuild's links (the SDK keeps 128 links per span by default). */
const MAX_LINKS = 128;

export type FeedListener = (e: FeedEvent) => void | Promise<void>;

/**
 * The change feed. It follows registry commits (announced in-process with
 * their data, or seen in the change log when another replica wrote them, told
 * through etcd or noticed by a poll), heartbeat endpoints and health results;
 * debounces them; keeps the registry mirror current; and hands each consumer a
 * typed event of what changed. Consumers: the xDS publisher, the health
 * checker's target list, and later the rollout controller and config watchers.
 */
@Injectable()
export class ChangeFeed implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('ChangeFeed');
  /** The registry as of `mirror.revision`. */
  readonly mirror = new RegistryMirror();
  /** Change-log revisions applied incrementally, in order (the last 1000), and full reads done: to check exactly-once delivery. */
  readonly applied: number[] = [];
  fullReads = 0;
  private readonly listeners: FeedListener[] = [];
  /** Commits announced in this process and not applied yet, by revision. */
  private readonly commits = new Map<number, Change[]>();
  /** The highest revision another replica (or the poll) says exists. */
  private remoteHead = -1;
  private readonly pendingServices = new Set<string>();
  private quietTimer?: NodeJS.Timeout;
  private firstPendingAt = 0;
  private coalesced = 0;
  /** Span contexts of traced commits since the last step (bounded like the SDK's link limit). */
  private links: SpanContext[] = [];
  private running?: Promise<void>;
  /** A leading-edge step is queued for the next turn of the event loop. */
  private leadingQueued = false;
  /** When the last step ended (ms since epoch): a trigger within XDS_DEBOUNCE_QUIET_MS of it is part of a burst. */
  private lastStepAt = 0;
  /** Steps run, and how many of them were started by the leading edge (the rest were debounced). */
  steps = 0;
  leadingSteps = 0;
  private again = false;
  private poller?: NodeJS.Timeout;
  private revisionWatch?: Watch;
  private stopped = false;
  private started = false;
  private readonly unsubscribe: (() => void)[] = [];

  constructor(
    @Inject(REGISTRY_STORE) private readonly store: RegistryStore,
    private readonly events: RegistryEvents,
    private readonly ephemeral: EphemeralEndpoints,
    private readonly health: HealthBoard,
    @Inject(COORDINATION) private readonly coord: Coordination,
    @Inject(AppConfig) private readonly config: AppConfig,
  ) {}

  /** Adds a consumer; it gets every event from the first full load on. */
  subscribe(fn: FeedListener): void {
    this.listeners.push(fn);
  }

  /** Loads the registry, then follows changes. */
  async onApplicationBootstrap(): Promise<void> {
    this.unsubscribe.push(this.events.onCommitted((c) => this.onCommitted(c)));
    const onServices = (services: Set<string>) => {
      for (const s of services) this.pendingServices.add(s);
      this.schedule();
    };
    this.ephemeral.on('changed', onServices);
    this.health.on('changed', onServices);
    this.unsubscribe.push(() => this.ephemeral.off('changed', onServices), () => this.health.off('changed', onServices));
    this.started = true;
    await this.run();
    void this.followAnnouncements();
    this.poller = setInterval(() => void this.poll(), this.config.XDS_POLL_INTERVAL_MS);
    this.poller.unref();
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    clearTimeout(this.quietTimer);
    clearInterval(this.poller);
    for (const u of this.unsubscribe) u();
    this.revisionWatch?.cancel();
  }

  /** Store revision of the mirror. */
  get revision(): number {
    return this.mirror.revision;
  }

  private headQuery?: Promise<number>;
  private readonly catchUpWaiters: { revision: number; resolve: () => void }[] = [];

  /**
   * Resolves once the mirror holds every commit that existed when this was
   * called (or after timeoutMs, or at once with the database down: fail
   * static). A new consumer, such as a config watcher starting right after a
   * write, then reads its own writes. Concurrent callers share one head query.
   */
  async caughtUp(timeoutMs = 2000): Promise<void> {
    let head: number;
    try {
      head = await (this.headQuery ??= this.store
        .changes(Number.MAX_SAFE_INTEGER, 1)
        .then((r) => r.revision)
        .finally(() => (this.headQuery = undefined)));
    } catch {
      return;
    }
    if (this.mirror.revision >= head || this.stopped) return;
    this.noteHead(head);
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, timeoutMs);
      t.unref();
      this.catchUpWaiters.push({ revision: head, resolve: () => (clearTimeout(t), resolve()) });
    });
  }

  private releaseCatchUps(): void {
    for (let i = this.catchUpWaiters.length - 1; i >= 0; i--)
      if (this.catchUpWaiters[i].revision <= this.mirror.revision) this.catchUpWaiters.splice(i, 1)[0].resolve();
  }

  /** The inputs of one service's endpoints: durable (mirror), heartbeat (coordination), health results. */
  sources(service: string): EndpointSources {
    return { durable: this.mirror.endpoints(service), heartbeat: this.ephemeral.of(service), checked: this.health.states(service) };
  }

  /** Heartbeat endpoints of a service. */
  heartbeat(service: string): Resource<EndpointSpec>[] {
    return this.ephemeral.of(service);
  }

  /** Everything translation reads, as of now. */
  translateInput(): TranslateInput {
    const heartbeat = new Map<string, Resource<EndpointSpec>[]>();
    for (const e of this.ephemeral.all()) {
      const list = heartbeat.get(e.service!) ?? [];
      list.push(e);
      heartbeat.set(e.service!, list);
    }
    const checked = new Map(this.health.services().map((s) => [s, this.health.states(s)]));
    return { revision: this.mirror.revision, resources: this.mirror.resources(), heartbeat, checked, panicShare: this.config.HEALTH_PANIC_PERCENT / 100 };
  }

  private onCommitted(c: Committed): void {
    if (c.revision <= this.mirror.revision) return;
    for (const ch of c.changes) {
      const list = this.commits.get(ch.revision) ?? [];
      list.push(ch);
      this.commits.set(ch.revision, list);
    }
    if (c.trace && this.links.length < MAX_LINKS) this.links.push(c.trace);
    this.schedule();
    void this.announce(c.revision);
  }

  /**
   * Asks for a step. Leading edge: when no step is running or waiting and none
   * ended in the last XDS_DEBOUNCE_QUIET_MS, the step runs at once (in the next
   * turn of the event loop, so that the triggers of this turn fold into it). A
   * lone change after a quiet period is then pushed without waiting out the
   * window. Otherwise (a burst) triggers coalesce into one trailing step, after
   * XDS_DEBOUNCE_QUIET_MS of quiet and at most XDS_DEBOUNCE_MAX_MS after the
   * first of them. A burst of N changes thus costs two steps, not N.
   */
  schedule(): void {
    if (this.stopped || !this.started) return;
    this.coalesced++;
    if (this.leadingQueued) return; // folds into the leading step about to run
    const now = Date.now();
    const quiet = this.config.XDS_DEBOUNCE_QUIET_MS;
    if (!this.quietTimer && !this.running && now - this.lastStepAt >= quiet) {
      this.firstPendingAt = now;
      this.leadingQueued = true;
      // The root context: a callback queued during a traced request would otherwise run the step inside that request's trace.
      setImmediate(() => {
        this.leadingQueued = false;
        this.leadingSteps++;
        void context.with(ROOT_CONTEXT, () => this.run());
      });
      return;
    }
    if (!this.quietTimer) this.firstPendingAt = now;
    clearTimeout(this.quietTimer);
    const wait = Math.max(0, Math.min(quiet, this.firstPendingAt + this.config.XDS_DEBOUNCE_MAX_MS - now));
    this.quietTimer = setTimeout(() => {
      this.quietTimer = undefined;
      void context.with(ROOT_CONTEXT, () => this.run());
    }, wait);
  }

  /** Runs steps, one at a time: a request during a step runs one more after it. */
  private run(): Promise<void> {
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
        const links = this.links;
        this.links = [];
        try {
          const event = await this.step(changedAt, coalesced, links);
          if (event) for (const fn of this.listeners) await fn(event);
          this.releaseCatchUps();
        } catch (e) {
          // Fail static: consumers keep what they have; the poll retries.
          this.log.warn(`change feed step failed, still at revision ${this.mirror.revision}: ${(e as Error).message}`);
        } finally {
          this.steps++;
          this.lastStepAt = Date.now();
        }
      } while (this.again && !this.stopped);
    })().finally(() => (this.running = undefined));
    return this.running;
  }

  /**
   * One step. Applies this process's own commits from memory when they
   * continue the mirror without a gap; otherwise follows the change log. A
   * gap in the log, a long backlog or a first start re-reads the registry.
   */
  private async step(changedAt: number, coalesced: number, links: SpanContext[]): Promise<FeedEvent | undefined> {
    const endpointServices = new Set(this.pendingServices);
    this.pendingServices.clear();
    const base = { endpointServices, changedAt, coalesced, links };
    if (this.mirror.revision < 0) return this.fullRead(base);

    const changes: Change[] = [];
    for (let rev = this.mirror.revision + 1; this.commits.has(rev); rev++) changes.push(...this.commits.get(rev)!);
    this.apply(changes);
    if (this.remoteHead > this.mirror.revision || this.commits.size) {
      // Newer changes exist that this process did not make (or announced out of order): the change log has them.
      let log: { changes: Change[]; revision: number };
      try {
        log = await this.store.changes(this.mirror.revision, 1000, { withObjects: true });
      } catch (e) {
        // PostgreSQL down: registry changes wait, heartbeat endpoints and health still flow (fail static).
        if (!changes.length && !endpointServices.size) throw e;
        log = { changes: [], revision: this.mirror.revision };
      }
      const gapless = log.changes.length > 0 && log.changes[0].revision === this.mirror.revision + 1 && log.changes[log.changes.length - 1].revision === log.revision;
      if (log.revision > this.mirror.revision && !gapless) return this.fullRead(base);
      this.apply(log.changes);
      changes.push(...log.changes);
    }
    for (const c of changes) if (c.kind === 'Endpoint') endpointServices.add(c.service!);
    if (!changes.length && !endpointServices.size) return undefined;
    return { ...base, revision: this.mirror.revision, full: false, changes, kinds: new Set(changes.map((c) => c.kind)) };
  }

  private apply(changes: Change[]): void {
    for (const c of changes) {
      this.mirror.apply(c);
      this.applied.push(c.revision);
    }
    if (this.applied.length > 1000) this.applied.splice(0, this.applied.length - 1000);
    for (const r of this.commits.keys()) if (r <= this.mirror.revision) this.commits.delete(r);
  }

  private async fullRead(base: Pick<FeedEvent, 'endpointServices' | 'changedAt' | 'coalesced' | 'links'>): Promise<FeedEvent> {
    const snap = await this.store.snapshot();
    this.fullReads++;
    this.mirror.reset(snap.revision, snap.resources);
    this.commits.clear();
    return { ...base, revision: snap.revision, full: true, changes: [], kinds: new Set(snap.resources.map((r) => r.kind)) };
  }

  /** Tells other replicas that the registry moved (they also poll, in case this is missed). */
  private async announce(revision: number): Promise<void> {
    try {
      await this.coord.put(KEYS.revision, String(revision));
    } catch (e) {
      this.log.debug(`could not announce revision ${revision}: ${(e as Error).message}`);
    }
  }

  /** Steps when another replica announces a newer commit; re-watches after any watch error. */
  private async followAnnouncements(): Promise<void> {
    if (this.stopped) return;
    try {
      const { kv, revision } = await this.coord.getWithRevision(KEYS.revision);
      if (kv) this.noteHead(Number(kv.value));
      this.revisionWatch?.cancel();
      // From the read: the key's own modRevision may be compacted away (the watch would fail, and poll, every 500 ms).
      this.revisionWatch = this.coord.watch(KEYS.revision, revision + 1, {
        event: (e) => (e.type === 'put' ? this.noteHead(Number(e.kv.value)) : undefined),
        error: () => {
          this.noteHead(Number.MAX_SAFE_INTEGER); // something may have been missed: the change log has it
          setTimeout(() => void this.followAnnouncements(), 500).unref();
        },
      });
    } catch {
      setTimeout(() => void this.followAnnouncements(), 1000).unref();
    }
  }

  /** A revision known to exist. Our own announcements echo back: those are already in memory and cost nothing. */
  private noteHead(revision: number): void {
    if (!Number.isFinite(revision) || revision <= this.mirror.revision) return;
    if (revision !== Number.MAX_SAFE_INTEGER && this.inMemory(revision)) return;
    this.remoteHead = Math.max(this.remoteHead, revision === Number.MAX_SAFE_INTEGER ? this.mirror.revision + 1 : revision);
    this.schedule();
  }

  /** Whether every revision after the mirror up to `revision` is a commit of this process not applied yet. */
  private inMemory(revision: number): boolean {
    for (let r = this.mirror.revision + 1; r <= revision; r++) if (!this.commits.has(r)) return false;
    return true;
  }

  private async poll(): Promise<void> {
    try {
      const { revision } = await this.store.changes(Number.MAX_SAFE_INTEGER, 1);
      this.noteHead(revision);
    } catch {
      /* database down: keep serving what we have */
    }
  }
}
