import type { Span } from '@opentelemetry/api';
import { Inject, Injectable } from '@nestjs/common';
import { AppConfig } from '../config/config.js';
import { HealthBoard } from '../coordination/health-board.js';
import { ChangeFeed, type FeedEvent } from '../feed/change-feed.js';
import { StatusWriter } from '../feed/status-writer.js';
import { withSpan } from '../observability/tracing.js';
import { POLICY_KINDS } from '../policies/index.js';
import { buildIR, patchEndpoints, patchRoutes } from '../translate/ir.js';
import { IrMemo } from '../translate/memo.js';
import type { IR, TranslationIssue } from '../translate/types.js';
import type { Resource, RouteSpec } from '../model/resources.js';
import { type CachePhase, type GroupSnapshot, SnapshotCache } from './cache/cache.js';
import { XdsMetrics } from './xds-metrics.js';

/**
 * Follows the change feed and publishes: builds the IR (in full, or only the
 * EDS of the services whose endpoints changed), hands it to the cache, and
 * writes what translation found back onto resource status.
 */
@Injectable()
export class XdsPublisher {
  private ir?: IR;
  /** Services in panic mode as of the last build. */
  private panicking = new Set<string>();
  /** What the last full build computed per service and route: the next one re-translates only what changed. */
  private readonly memo = new IrMemo();

  constructor(
    private readonly feed: ChangeFeed,
    private readonly status: StatusWriter,
    private readonly cache: SnapshotCache,
    private readonly metrics: XdsMetrics,
    private readonly board: HealthBoard,
    @Inject(AppConfig) private readonly config: AppConfig,
  ) {
    feed.subscribe((e) => this.onEvent(e));
    // A new node group can have issues of its own (settings its clients cannot honour): write them.
    cache.onNewGroup(() => void this.writeStatus().catch(() => undefined));
    // A forgotten group's issues no longer apply to any client.
    cache.onForgetGroup(() => void this.writeStatus().catch(() => undefined));
  }

  /** Store revision of the IR being served (-1 before the first build). */
  get revision(): number {
    return this.ir?.revision ?? -1;
  }

  /**
   * One rebuild, traced as a root span (it serves many writes, so it is no
   * request's child) linked to the transaction span of every write it folds in.
   */
  private onEvent(e: FeedEvent): Promise<void> | undefined {
    // Application config is not routing: nothing to translate (the config hub follows the same feed).
    if (!e.full && !e.endpointServices.size && e.kinds.size && [...e.kinds].every((k) => k === 'Config')) return;
    const attributes = { 'switchyard.registry.revision': e.revision, 'switchyard.xds.full': e.full, 'switchyard.xds.coalesced': e.coalesced, 'switchyard.xds.changes': e.changes.length };
    return withSpan('xds.rebuild', { root: true, links: e.links.map((context) => ({ context })), attributes }, async () => {
      const started = process.hrtime.bigint();
      if (e.full || e.changes.length) this.metrics.committedAt(e.revision, e.changedAt);
      const ir = this.build(e);
      this.metrics.rebuilt(Number(process.hrtime.bigint() - started) / 1e9, e.coalesced, ir);
      this.recordPanics(ir);
      if (e.full) this.status.reset(this.feed.mirror.resources());
      await withSpan('xds.status', {}, () => this.writeStatus());
    });
  }

  /** Runs one phase of the cache's publish in its own span (the cache itself knows nothing of tracing). */
  private readonly phase = <T>(name: CachePhase, fn: () => T, ir: { revision: number }): T =>
    withSpan(`xds.${name}`, { attributes: { 'switchyard.registry.revision': ir.revision } }, (span) => {
      const out = fn();
      if (name === 'publish') describePublish(span, ir.revision, out as GroupSnapshot[]);
      return out;
    });

  /** Writes every issue (the IR's and each group's) onto status, and sets the metrics from them. */
  private async writeStatus(): Promise<void> {
    const ir = this.ir;
    if (!ir) return;
    const issues: TranslationIssue[] = [...ir.issues];
    for (const g of this.cache.knownGroups()) {
      const s = this.cache.snapshot(g)!;
      issues.push(...s.issues.map((i) => ({ ...i, group: s.key })));
    }
    const mirror = this.feed.mirror;
    const attached = new Set((['Service', 'Route', 'Listener'] as const).flatMap((k) => mirror.of<{ policies?: string[] }>(k)).flatMap((r) => r.spec.policies ?? []));
    this.metrics.issues(issues, mirror.of<{ type: string }>('Policy').map((p) => ({ name: p.name, type: p.spec.type, attached: attached.has(p.name) })));
    await this.status.write(ir.revision, issues, this.feed.mirror);
  }

  /** A full build when anything but endpoints changed (or a service is unknown); otherwise the EDS fast path. */
  private build(e: FeedEvent): IR {
    const mirror = this.feed.mirror;
    const onlyEndpoints = !e.full && this.ir && [...e.kinds].every((k) => k === 'Endpoint') && [...e.endpointServices].every((s) => mirror.has('Service', s));
    if (onlyEndpoints && this.ir) {
      const changed = [...e.endpointServices].map((s) => ({ service: mirror.get('Service', s)!, ...this.feed.sources(s) }) as Parameters<typeof patchEndpoints>[2][number]);
      // Translation is pure and untraced inside: its call sites are wrapped here.
      const patched = withSpan('xds.build_ir', { attributes: { 'switchyard.xds.eds_only': true } }, () => patchEndpoints(this.ir!, e.revision, changed, this.config.HEALTH_PANIC_PERCENT / 100));
      if (patched) {
        this.cache.setIR(patched.ir, patched.clusters, this.phase);
        return (this.ir = patched.ir);
      }
    }
    const routes = this.changedRoutes(e);
    if (routes && this.ir) {
      const patched = withSpan('xds.build_ir', { attributes: { 'switchyard.xds.routes_only': true } }, () => patchRoutes(this.ir!, e.revision, routes, this.memo, POLICY_KINDS));
      if (patched) {
        this.cache.setIR(patched, undefined, this.phase);
        return (this.ir = patched);
      }
    }
    const ir = withSpan('xds.build_ir', {}, () => buildIR(this.feed.translateInput(), POLICY_KINDS, this.memo));
    this.cache.setIR(ir, undefined, this.phase);
    return (this.ir = ir);
  }

  /** The Routes an event wrote, when writing existing Routes is all it did (the route fast path); else undefined. */
  private changedRoutes(e: FeedEvent): Resource<RouteSpec>[] | undefined {
    if (e.full || e.endpointServices.size || !e.changes.length || !e.changes.every((c) => c.kind === 'Route' && c.op !== 'delete' && c.object)) return undefined;
    const routes: Resource<RouteSpec>[] = [];
    for (const c of e.changes) {
      const r = this.feed.mirror.get<RouteSpec>('Route', c.name);
      if (!r) return undefined;
      routes.push(r);
    }
    return routes;
  }

  /** Records panic-mode changes as health events (the clock lives here, not in translation). */
  private recordPanics(ir: IR): void {
    const now = new Set<string>();
    for (const [service, list] of Object.entries(ir.endpointIssues)) if (list.some((i) => i.reason === 'Panic')) now.add(service);
    for (const service of new Set([...now, ...this.panicking])) {
      if (now.has(service) === this.panicking.has(service)) continue;
      const panic = now.has(service);
      this.board.record({
        at: new Date().toISOString(),
        service,
        type: panic ? 'panic' : 'recovered',
        reason: panic ? ir.endpointIssues[service].find((i) => i.reason === 'Panic')!.message : 'out of panic: failing endpoints are withdrawn again',
      });
    }
    this.panicking = now;
  }
}

/**
 * The publish span's attributes: the snapshot version (the registry revision
 * every group's snapshot is at, which ACKs are matched against), and one event
 * per changed group with its per-type SotW versions.
 */
function describePublish(span: Span, revision: number, changed: GroupSnapshot[]): void {
  if (!span.isRecording()) return;
  span.setAttributes({ 'switchyard.xds.snapshot_version': String(revision), 'switchyard.xds.groups_changed': changed.length });
  for (const snap of changed)
    span.addEvent('snapshot', { 'xds.group': snap.key, ...Object.fromEntries(Object.entries(snap.types).map(([type, t]) => [`xds.version.${type.split('.').pop()}`, t.version])) });
}
