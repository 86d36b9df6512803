import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram } from 'prom-client';
import { MetricsService } from '../observability/metrics.service.js';
import type { IR, TranslationIssue } from '../translate/types.js';
import { TYPE, type TypeUrl } from '../translate/envoy-types.js';
import type { ProxyInfo, ProxyRegistry } from './server/proxies.js';

const SHORT: Record<TypeUrl, string> = { [TYPE.cluster]: 'CDS', [TYPE.endpoint]: 'EDS', [TYPE.listener]: 'LDS', [TYPE.route]: 'RDS' };
export const shortType = (t: TypeUrl) => SHORT[t] ?? t;

/**
 * xDS metrics: pushes, bytes, ACK/NACK, rebuilds, convergence (registry commit →
 * proxy ACK of a version that replaced one it had) and initial sync (a stream's
 * first request for a type → its ACK of the first version).
 */
@Injectable()
export class XdsMetrics {
  readonly pushes: Counter<'type'>;
  readonly bytes: Counter<'type'>;
  readonly nacks: Counter<'type' | 'group'>;
  readonly convergence: Histogram<'type'>;
  readonly initialSync: Histogram<'type'>;
  readonly rebuildSeconds: Histogram;
  readonly coalesced: Histogram;
  readonly resources: Gauge<'type'>;
  readonly issueGauge: Gauge<'severity'>;
  readonly pushLatency: Histogram;
  readonly refused: Counter;
  readonly authRefusals: Counter<'reason'>;
  readonly conditionGauge: Gauge<'kind' | 'reason'>;
  readonly policyGauge: Gauge<'type' | 'condition'>;
  private readonly commitTimes = new Map<number, number>();

  constructor(metrics: MetricsService) {
    const registers = [metrics.registry];
    this.pushes = new Counter({ name: 'switchyard_xds_pushes_total', help: 'xDS responses sent, by type', labelNames: ['type'], registers });
    this.bytes = new Counter({ name: 'switchyard_xds_push_bytes_total', help: 'bytes of xDS responses sent, by type', labelNames: ['type'], registers });
    this.nacks = new Counter({ name: 'switchyard_xds_nacks_total', help: 'xDS responses rejected by clients, by type and node group', labelNames: ['type', 'group'], registers });
    this.convergence = new Histogram({
      name: 'switchyard_xds_convergence_seconds',
      help: 'time from a registry commit to a proxy ACKing the config that contains it, for versions that replace one the stream had (first syncs are in switchyard_xds_initial_sync_seconds)',
      labelNames: ['type'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.initialSync = new Histogram({
      name: 'switchyard_xds_initial_sync_seconds',
      help: "time from a stream's first request for a type to its ACK of the first version sent for it",
      labelNames: ['type'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.rebuildSeconds = new Histogram({ name: 'switchyard_xds_rebuild_seconds', help: 'registry snapshot → IR → resources', buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers });
    this.coalesced = new Histogram({ name: 'switchyard_xds_debounce_coalesced_changes', help: 'change notifications folded into one rebuild', buckets: [1, 2, 5, 10, 50, 100, 1000], registers });
    this.pushLatency = new Histogram({
      name: 'switchyard_xds_push_latency_seconds',
      help: 'time from a group snapshot being published to the last of its streams being written (fan-out)',
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
      registers,
    });
    this.refused = new Counter({ name: 'switchyard_xds_streams_refused_total', help: 'new xDS streams refused by admission control (RESOURCE_EXHAUSTED)', registers });
    this.authRefusals = new Counter({
      name: 'switchyard_xds_auth_refusals_total',
      help: 'xDS streams refused by XDS_AUTH before anything was sent, by reason (no_identity, bad_token, wrong_group, node_id_taken)',
      labelNames: ['reason'],
      registers,
    });
    // Every reason shows from the start (at 0), so alerts and dashboards need no "absent" special case.
    for (const reason of ['no_identity', 'bad_token', 'wrong_group', 'node_id_taken']) this.authRefusals.inc({ reason }, 0);
    this.issueGauge = new Gauge({
      name: 'switchyard_translation_issues',
      help: 'problems found by translation and validation (refused resources are errors), by severity',
      labelNames: ['severity'],
      registers,
    });
    this.conditionGauge = new Gauge({
      name: 'switchyard_translation_conditions',
      help: 'translation conditions by resource kind and reason (Degraded, NotEnforced, NotRendered, Panic, ...; the severity when there is no reason)',
      labelNames: ['kind', 'reason'],
      registers,
    });
    this.policyGauge = new Gauge({
      name: 'switchyard_policies',
      help: 'Policy resources by type and enforcement: Enforced, NotEnforced (some client kind cannot honour a setting), NotRendered, Unattached',
      labelNames: ['type', 'condition'],
      registers,
    });
    this.resources = new Gauge({ name: 'switchyard_xds_resources', help: 'resources in the current IR, by type', labelNames: ['type'], registers });
  }

  /** Exposes connected streams as a gauge computed at scrape time. */
  watchProxies(proxies: ProxyRegistry, registry: MetricsService, groups: () => number): void {
    new Gauge({
      name: 'switchyard_xds_node_groups',
      help: 'node groups the cache builds on every change (idle ones are dropped after XDS_IDLE_GROUP_TTL_MS)',
      registers: [registry.registry],
      collect() {
        this.set(groups());
      },
    });
    new Gauge({
      name: 'switchyard_xds_connected_proxies',
      help: 'connected xDS streams by node group and client kind',
      labelNames: ['group', 'kind'],
      registers: [registry.registry],
      collect() {
        this.reset();
        for (const p of proxies.list()) this.inc({ group: p.group.kind === 'envoy' ? p.group.cluster : 'proxyless', kind: p.clientKind });
      },
    });
  }

  /** Remembers when the change behind `revision` was committed. */
  committedAt(revision: number, at: number): void {
    if (!this.commitTimes.has(revision)) this.commitTimes.set(revision, at);
    if (this.commitTimes.size > 1024) this.commitTimes.delete(this.commitTimes.keys().next().value!);
  }

  rebuilt(seconds: number, coalesced: number, ir: IR): void {
    this.rebuildSeconds.observe(seconds);
    if (coalesced > 0) this.coalesced.observe(coalesced);
    this.resources.set({ type: 'clusters' }, ir.clusters.length);
    this.resources.set({ type: 'virtualHosts' }, ir.virtualHosts.length);
    this.resources.set({ type: 'listeners' }, ir.listeners.length);
  }

  /** Sets the issue, condition and policy gauges from everything translation reported. */
  issues(list: TranslationIssue[], policies: { name: string; type: string; attached: boolean }[]): void {
    this.issueGauge.set({ severity: 'error' }, list.filter((i) => i.severity === 'error').length);
    this.issueGauge.set({ severity: 'warning' }, list.filter((i) => i.severity === 'warning').length);
    this.conditionGauge.reset();
    // One per resource and reason (a condition reported for several node groups counts once).
    const seen = new Set<string>();
    for (const i of list) {
      const reason = i.reason ?? i.severity;
      const key = `${i.kind}/${i.name}/${reason}/${i.field ?? ''}`;
      if (seen.has(key)) continue;
      seen.add(key);
      this.conditionGauge.inc({ kind: i.kind, reason });
    }
    this.policyGauge.reset();
    const reasons = new Map<string, Set<string>>();
    for (const i of list) if (i.kind === 'Policy' && i.reason) (reasons.get(i.name) ?? reasons.set(i.name, new Set()).get(i.name)!).add(i.reason);
    for (const p of policies) {
      const r = reasons.get(p.name);
      const condition = !p.attached ? 'Unattached' : r?.has('NotRendered') ? 'NotRendered' : r?.has('NotEnforced') || r?.has('Clamped') ? 'NotEnforced' : 'Enforced';
      this.policyGauge.inc({ type: p.type, condition });
    }
  }

  sent(type: TypeUrl, bytes: number): void {
    this.pushes.inc({ type: shortType(type) });
    this.bytes.inc({ type: shortType(type) }, bytes);
  }

  /**
   * Records an ACK: the initial sync when `subscribedAt` is given (the first version of the type on the
   * stream), else convergence from the commit behind `revision`. A first sync is not timed from the
   * commit: a proxy connecting long after the last write would report that whole gap as convergence.
   */
  acked(type: TypeUrl, revision: number | undefined, subscribedAt?: number): void {
    if (subscribedAt !== undefined) {
      this.initialSync.observe({ type: shortType(type) }, (Date.now() - subscribedAt) / 1000);
      return;
    }
    const at = revision !== undefined ? this.commitTimes.get(revision) : undefined;
    if (at !== undefined) this.convergence.observe({ type: shortType(type) }, (Date.now() - at) / 1000);
  }

  nacked(p: ProxyInfo, type: TypeUrl): void {
    this.nacks.inc({ type: shortType(type), group: p.group.kind === 'envoy' ? p.group.cluster : 'proxyless' });
  }
}
