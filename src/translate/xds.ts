import type { HeaderMatch, RouteMatch } from '../model/resources.js';
import { ADS, duration, HCM_TYPE, HTTP_PROTOCOL_OPTIONS, ROUTER_TYPE, TYPE, type TypeUrl } from './envoy-types.js';
import type { Json, PolicyPlugin, PluginIssue, RenderContext } from './plugin.js';
import { clusterIndex, noteCopy, positionsByName, shareIndex } from './positions.js';
import { groupKey, type IR, type IrCluster, type IrListener, type IrRoute, type IrVirtualHost, type NodeGroup, type Owner, type PolicyMap, type TranslationIssue } from './types.js';

/** One xDS resource as proto3-style JSON with snake_case names. */
export interface NamedResource {
  name: string;
  resource: Record<string, unknown>;
  owner: Owner;
  /** Names of other resources this one needs: listener → route config, route config → clusters. */
  needs?: string[];
}

export type GroupResources = Record<TypeUrl, NamedResource[]>;

/**
 * IR → Envoy v3 resources for one node group. Pure; output sorted by name.
 * Envoy nodes get real listeners from Listener resources of their group;
 * proxyless gRPC clients get one API listener per route host, so `xds:///<host>` resolves.
 * Policy plugins decorate clusters and routes in their order; translation itself names no policy type.
 */
export function translateGroup(ir: IR, group: NodeGroup, plugins: readonly PolicyPlugin[], memo?: GroupMemo): { resources: GroupResources; issues: TranslationIssue[] } {
  const sorted = [...plugins].sort((a, b) => a.order - b.order);
  const fast = memo && routesChanged(ir, group, sorted, memo.for(group, plugins));
  if (fast) return fast;
  const r = new GroupRenderer(group, sorted, ir.clusters, memo);
  const configs = new Map<string, RenderedConfig>();
  const vhByName = new Map(ir.virtualHosts.map((v) => [v.name, v]));
  const listeners: NamedResource[] = [];
  const routes: NamedResource[] = [];
  const usedVhosts: IrVirtualHost[] = [];
  // Clusters the listeners' own settings send to (e.g. a trace collector).
  const extra: string[] = [];

  if (group.kind === 'proxyless') {
    for (const vh of ir.virtualHosts) {
      usedVhosts.push(vh);
      const out = r.proxyless(vh);
      for (const o of out) {
        listeners.push(o.listener);
        routes.push(o.route);
      }
    }
  } else {
    for (const l of ir.listeners.filter((x) => x.group === group.cluster)) {
      extra.push(...r.clustersFor(l.policies));
      const vhs = l.virtualHosts.map((n) => vhByName.get(n)!).filter(Boolean);
      usedVhosts.push(...vhs);
      const owner: Owner = { kind: 'Listener', name: l.name };
      listeners.push({
        name: l.name,
        owner,
        needs: [l.name],
        resource: {
          name: l.name,
          address: { socket_address: { address: l.address, port_value: l.port } },
          filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: r.hcm(l.name, l.name, vhs, l.policies, l, owner) }] }],
        },
      });
      // The route configuration is reused whole when each of its virtual hosts rendered to the same object as last time.
      const rendered = vhs.map((vh) => r.memoized('virtualHost', vh, () => r.virtualHost(vh)));
      const last = memo?.configs.get(l.name);
      const config: RenderedConfig =
        last && last.vhosts.length === rendered.length && last.vhosts.every((v, i) => v === rendered[i])
          ? last
          : { vhosts: rendered, resource: { name: l.name, owner, needs: clustersOf(vhs), resource: { name: l.name, virtual_hosts: rendered } } };
      configs.set(l.name, config);
      routes.push(config.resource);
    }
  }
  if (memo) memo.configs = configs;

  const wanted = new Set(extra);
  for (const vh of usedVhosts) for (const rt of vh.routes) for (const d of rt.destinations) wanted.add(d.cluster);
  const clusters = ir.clusters.filter((c) => wanted.has(c.name));
  const resources = {
    [TYPE.cluster]: clusters.map((c) => r.clusterResource(c)),
    [TYPE.endpoint]: clusters.map((c) => r.memoized('eds', c, () => r.eds(c))),
    [TYPE.listener]: sortByName(listeners),
    [TYPE.route]: sortByName(routes),
  } as GroupResources;
  const issues = r.issues();
  // A copy: the caller adds its own findings to the list it gets.
  if (memo) memo.last = { ir, resources, issues: [...issues], looked: r.looked };
  return { resources, issues };
}

/** Route fast path: changed virtual hosts handled with at most this many; more is a full walk (it is O(changed × listeners)). */
const FAST_PATH_LIMIT = 32;

/**
 * The group's last output with only the changed virtual hosts rendered
 * again, when nothing else in the IR changed (the route fast path of the IR,
 * see patchRoutes, hands back the same clusters and listeners) apart from
 * clusters replaced by the EDS fast path (same names, in the same places):
 * those are rendered again too, unless some render looked one up. Each changed
 * virtual host must keep its name, hosts, clusters and the policy types of
 * its routes: then clusters, endpoints and Envoy listeners are what they
 * were, and only route configurations (and proxyless listeners) holding it
 * change. It must also report the same issues as its last render, so that the
 * group's issues are the last ones in the same order. Undefined when any of
 * this does not hold: the caller walks the whole IR (which gives the same).
 */
function routesChanged(ir: IR, group: NodeGroup, plugins: PolicyPlugin[], memo: GroupMemo): { resources: GroupResources; issues: TranslationIssue[] } | undefined {
  const last = memo.last;
  if (!last || last.ir.listeners !== ir.listeners || last.ir.virtualHosts.length !== ir.virtualHosts.length || last.ir.clusters.length !== ir.clusters.length) return undefined;
  const clusters: [IrCluster, IrCluster][] = [];
  if (last.ir.clusters !== ir.clusters)
    for (let i = 0; i < ir.clusters.length; i++) {
      const a = last.ir.clusters[i];
      const b = ir.clusters[i];
      if (a === b) continue;
      // A render that looked the cluster up may differ now: only the full walk checks each render's lookups.
      if (clusters.length >= FAST_PATH_LIMIT || a.name !== b.name || last.looked.has(a.name)) return undefined;
      clusters.push([a, b]);
    }
  const changed = new Map<IrVirtualHost, IrVirtualHost>();
  for (let i = 0; i < ir.virtualHosts.length; i++) {
    const a = last.ir.virtualHosts[i];
    const b = ir.virtualHosts[i];
    if (a === b) continue;
    if (changed.size >= FAST_PATH_LIMIT || a.name !== b.name || !sameList(a.domains, b.domains) || !sameList(clustersOf([a]), clustersOf([b])) || !sameList(policyTypes(a), policyTypes(b))) return undefined;
    changed.set(b, a);
  }
  const r = new GroupRenderer(group, plugins, ir.clusters, memo);
  const done = (resources: GroupResources) => {
    for (const n of r.looked) last.looked.add(n);
    memo.last = { ir, resources, issues: last.issues, looked: last.looked };
    return { resources, issues: [...last.issues] };
  };
  if (!changed.size && !clusters.length) return done(last.resources);
  // The same issues, in the same order, as the render it replaces.
  const same = (before: Rendered | undefined, after: Rendered | undefined) =>
    !!before && !!after && before.issues.length === after.issues.length && before.issues.every(([k], i) => k === after.issues[i][0]);
  const sameIssues = (slot: Slot, b: IrVirtualHost) => same(memo.slot(slot).get(changed.get(b)!), memo.slot(slot).get(b));
  const resources = { ...last.resources };
  if (clusters.length) {
    const cds = [...last.resources[TYPE.cluster]];
    const eds = [...last.resources[TYPE.endpoint]];
    const positions = positionsByName(last.resources[TYPE.cluster]);
    const places: number[] = [];
    for (const [a, b] of clusters) {
      const at = positions.get(a.name) ?? -1;
      if (at < 0) continue; // not a cluster of this group
      places.push(at);
      const before = [memo.slot('cluster').get(a), memo.slot('eds').get(a)];
      if (before[0]?.value !== cds[at] || before[1]?.value !== eds[at]) return undefined;
      cds[at] = r.clusterResource(b);
      eds[at] = r.memoized('eds', b, () => r.eds(b));
      if (!same(before[0], memo.slot('cluster').get(b)) || !same(before[1], memo.slot('eds').get(b))) return undefined;
    }
    // Each replaced by its own name: the copies keep the names' places (and say which they replaced).
    noteCopy(last.resources[TYPE.cluster], cds, places);
    noteCopy(last.resources[TYPE.endpoint], eds, places);
    resources[TYPE.cluster] = cds;
    resources[TYPE.endpoint] = eds;
  }
  if (!changed.size) return done(resources);
  if (group.kind === 'proxyless') {
    const listeners = [...last.resources[TYPE.listener]];
    const routes = [...last.resources[TYPE.route]];
    const replacedListeners: number[] = [];
    const replacedRoutes: number[] = [];
    for (const [b, a] of changed) {
      const before = memo.slot('proxyless').get(a)?.value as ReturnType<GroupRenderer['proxyless']> | undefined;
      const after = r.proxyless(b);
      if (!before || before.length !== after.length || !sameIssues('proxyless', b)) return undefined;
      for (let k = 0; k < after.length; k++) {
        const li = listeners.indexOf(before[k].listener);
        const ri = routes.indexOf(before[k].route);
        // Same names in the same places, or the copies below could not say so.
        if (li < 0 || ri < 0 || after[k].listener.name !== before[k].listener.name || after[k].route.name !== before[k].route.name) return undefined;
        listeners[li] = after[k].listener;
        routes[ri] = after[k].route;
        replacedListeners.push(li);
        replacedRoutes.push(ri);
      }
    }
    noteCopy(last.resources[TYPE.listener], listeners, replacedListeners);
    noteCopy(last.resources[TYPE.route], routes, replacedRoutes);
    resources[TYPE.listener] = listeners;
    resources[TYPE.route] = routes;
    return done(resources);
  }
  const names = new Set([...changed.keys()].map((v) => v.name));
  // Every host kept its name and place (checked above): the last IR's index of names holds, without a map of every host per change.
  const hostAt = positionsByName(last.ir.virtualHosts);
  shareIndex(last.ir.virtualHosts, ir.virtualHosts);
  const vhByName = { get: (n: string) => (hostAt.has(n) ? ir.virtualHosts[hostAt.get(n)!] : undefined) };
  const routes = [...last.resources[TYPE.route]];
  const replacedRoutes: number[] = [];
  const configs = new Map(memo.configs);
  for (const l of ir.listeners) {
    if (l.group !== group.cluster || !l.virtualHosts.some((n) => names.has(n))) continue;
    const lastConfig = memo.configs.get(l.name);
    const vhs = l.virtualHosts.map((n) => vhByName.get(n)!).filter(Boolean);
    if (!lastConfig || lastConfig.vhosts.length !== vhs.length) return undefined;
    // Unchanged hosts keep their last render (and report nothing new); changed ones are rendered.
    const rendered = vhs.map((vh, i) => (changed.has(vh) ? r.memoized('virtualHost', vh, () => r.virtualHost(vh)) : lastConfig.vhosts[i]));
    if (vhs.some((vh) => changed.has(vh) && !sameIssues('virtualHost', vh))) return undefined;
    if (rendered.every((v, i) => v === lastConfig.vhosts[i])) continue;
    const old = lastConfig.resource;
    // Its clusters are the same (each changed host kept its own), so its needs are too.
    const config: RenderedConfig = { vhosts: rendered, resource: { name: l.name, owner: old.owner, needs: old.needs, resource: { name: l.name, virtual_hosts: rendered } } };
    const at = routes.indexOf(old);
    if (at < 0) return undefined;
    routes[at] = config.resource;
    replacedRoutes.push(at);
    configs.set(l.name, config);
  }
  memo.configs = configs;
  noteCopy(last.resources[TYPE.route], routes, replacedRoutes);
  resources[TYPE.route] = routes;
  return done(resources);
}

/** The policy types a virtual host's routes use: what decides the HTTP filters of a listener holding it. */
const policyTypes = (vh: IrVirtualHost) => [...new Set(vh.routes.flatMap((rt) => Object.keys(rt.policies ?? {}).filter((k) => rt.policies![k])))].sort();

const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** One listener's route configuration as last rendered: its virtual hosts' renders and the resource built from them. */
type RenderedConfig = { vhosts: Json[]; resource: NamedResource };

/** A render kept for the next build: its value, the issues it reported and the clusters it looked up (with what they were). */
type Rendered = { value: unknown; issues: [string, TranslationIssue][]; lookups: [string, IrCluster | undefined][] };
type Slot = 'cluster' | 'eds' | 'virtualHost' | 'proxyless';

/**
 * What translating one node group leaves for the next build of it: renders by
 * IR object. The IR builder hands back the same object for an unchanged
 * source (see IrMemo), so only changed sources are rendered again, and the
 * snapshot cache finds the same resource objects it has already encoded.
 * Output is the same with or without a memo.
 */
export class GroupMemo {
  private readonly slots = new Map<Slot, WeakMap<object, Rendered>>();
  /** Route configurations of Envoy listeners, by listener name. */
  configs = new Map<string, RenderedConfig>();
  /** The last build's IR and output (its issues as returned, before the caller added any): the route fast path starts from them. */
  last?: { ir: IR; resources: GroupResources; issues: TranslationIssue[]; looked: Set<string> };
  private key?: string;
  private plugins?: readonly PolicyPlugin[];

  /** The memo for `group` and `plugins`: starts over if either differs from the last use. */
  for(group: NodeGroup, plugins: readonly PolicyPlugin[]): GroupMemo {
    const key = groupKey(group);
    if (key !== this.key || plugins !== this.plugins) {
      this.slots.clear();
      this.configs = new Map();
      this.last = undefined;
      this.key = key;
      this.plugins = plugins;
    }
    return this;
  }

  slot(name: Slot): WeakMap<object, Rendered> {
    let m = this.slots.get(name);
    if (!m) this.slots.set(name, (m = new WeakMap()));
    return m;
  }
}

/** Renders IR objects for one group, running the plugins and collecting what they report. */
class GroupRenderer {
  private readonly reported = new Map<string, TranslationIssue>();
  /** Names of the clusters some render of this build looked up (memo hits included): the route fast path keeps away from them. */
  readonly looked = new Set<string>();

  private readonly clusterByName: { get(name: string): IrCluster | undefined };
  /** What the render in progress reports and looks up, to keep with it. */
  private capture?: Omit<Rendered, 'value'>;

  constructor(
    private readonly group: NodeGroup,
    private readonly plugins: PolicyPlugin[],
    clusters: readonly IrCluster[] = [],
    private readonly memo?: GroupMemo,
  ) {
    // The IR's shared index (built once per clusters array, kept by the EDS fast path's copies), not a map per group and build.
    const at = clusterIndex(clusters).byName;
    this.clusterByName = { get: (name) => (at.has(name) ? clusters[at.get(name)!] : undefined) };
  }

  /**
   * `render()`, or what it returned for the same IR object in the last build
   * when every cluster it looked up is still the same object; the issues it
   * reported are reported again, in the same order.
   */
  memoized<T>(slot: Slot, ir: object, render: () => T): T {
    if (!this.memo) return render();
    const m = this.memo.slot(slot);
    const hit = m.get(ir);
    if (hit && this.stillValid(hit)) {
      for (const [n] of hit.lookups) this.looked.add(n);
      if (hit.issues.length) for (const [k, i] of hit.issues) this.reported.set(k, i);
      if (this.capture) {
        this.capture.issues.push(...hit.issues);
        this.capture.lookups.push(...hit.lookups);
      }
      return hit.value as T;
    }
    const outer = this.capture;
    const mine: Omit<Rendered, 'value'> = { issues: [], lookups: [] };
    this.capture = mine;
    let value: T;
    try {
      value = render();
    } finally {
      this.capture = outer;
    }
    outer?.issues.push(...mine.issues);
    outer?.lookups.push(...mine.lookups);
    m.set(ir, { value, ...mine });
    return value;
  }

  private stillValid(hit: Rendered): boolean {
    for (let i = 0; i < hit.lookups.length; i++) if (this.clusterByName.get(hit.lookups[i][0]) !== hit.lookups[i][1]) return false;
    return true;
  }

  private lookup(name: string): IrCluster | undefined {
    const c = this.clusterByName.get(name);
    this.looked.add(name);
    this.capture?.lookups.push([name, c]);
    return c;
  }

  /** Clusters that the connection-manager settings in `policies` send to. */
  clustersFor(policies: PolicyMap | undefined): string[] {
    return policies ? this.plugins.flatMap((p) => (policies[p.type] && p.clusters ? p.clusters(policies[p.type].settings) : [])) : [];
  }

  issues(): TranslationIssue[] {
    return [...this.reported.values()];
  }

  /** Runs `hook` of every plugin whose type is in `policies`, in order. */
  private decorate<T>(out: Json, policies: PolicyMap | undefined, ir: T, hook: 'cluster' | 'route' | 'virtualHost' | 'loadAssignment' | 'connectionManager', fallback: Owner & { field?: string }): Json {
    if (!policies) return out;
    for (const p of this.plugins) {
      const fn = p[hook] as ((o: Json, s: unknown, c: RenderContext<T>) => Json) | undefined;
      const resolved = policies[p.type];
      if (!fn || !resolved) continue;
      // Inline settings win over the Policy's, so their problems are the route's.
      const owner = resolved.policy && !resolved.inline ? { kind: 'Policy' as const, name: resolved.policy } : fallback;
      const at = resolved.policy && !resolved.inline ? `spec.${p.type}` : fallback.field && p.inlineField ? `${fallback.field}.${p.inlineField}` : fallback.field;
      out = fn(out, resolved.settings, { group: this.group, ir, report: (i) => this.report(owner, at, i, owner === fallback), cluster: (n) => this.lookup(n) });
    }
    return out;
  }

  /** Records a plugin's issue on the Policy (field under spec.<type>) or, for inline settings, on the route rule's field. */
  private report(owner: { kind: TranslationIssue['kind']; name: string }, at: string | undefined, i: PluginIssue, inline: boolean): void {
    const field = at && i.field && !inline ? `${at}.${i.field}` : (at ?? i.field);
    const issue: TranslationIssue = { kind: owner.kind, name: owner.name, severity: i.severity, ...(i.reason ? { reason: i.reason } : {}), ...(field ? { field } : {}), message: i.message };
    const key = JSON.stringify(issue);
    this.reported.set(key, issue);
    this.capture?.issues.push([key, issue]);
  }

  cluster(c: IrCluster): Json {
    const base: Json = {
      name: c.name,
      type: 'EDS',
      eds_cluster_config: { eds_config: ADS, service_name: c.name },
      connect_timeout: duration(c.connectTimeoutMs),
      lb_policy: 'ROUND_ROBIN',
      // Report load to the server that sent this cluster (gRPC accepts only `self`).
      ...(c.loadReporting ? { lrs_server: { self: {} } } : {}),
    };
    const out = this.decorate(base, c.policies, c, 'cluster', { kind: 'Service', name: c.service });
    // Envoy must speak HTTP/2 to gRPC upstreams; proxyless clients always do.
    if (this.group.kind === 'envoy' && c.protocol === 'grpc')
      out.typed_extension_protocol_options = { [HTTP_PROTOCOL_OPTIONS]: { '@type': `type.googleapis.com/${HTTP_PROTOCOL_OPTIONS}`, explicit_http_config: { http2_protocol_options: {} } } };
    return out;
  }

  eds(c: IrCluster): NamedResource {
    const out = this.decorate(loadAssignment(c), c.policies, c, 'loadAssignment', { kind: 'Service', name: c.service });
    return { name: c.name, owner: { kind: 'Service', name: c.service }, resource: out };
  }

  hcm(statPrefix: string, routeConfigName: string, vhs: IrVirtualHost[], policies: PolicyMap | undefined, ir: IrListener | IrVirtualHost, owner: Owner): Json {
    // A type's filters go only where some route uses it.
    const uses = (p: PolicyPlugin) => vhs.some((vh) => vh.routes.some((rt) => rt.policies?.[p.type]));
    const filters = this.plugins.filter((p) => p.httpFilters && uses(p)).flatMap((p) => p.httpFilters!(this.group));
    const out: Json = {
      '@type': HCM_TYPE,
      stat_prefix: statPrefix,
      codec_type: 'AUTO',
      rds: { config_source: ADS, route_config_name: routeConfigName },
      http_filters: [...filters, { name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER_TYPE } }],
    };
    return this.decorate(out, policies, ir, 'connectionManager', owner);
  }

  /** One cluster's CDS resource, memoized by it. */
  clusterResource(c: IrCluster): NamedResource {
    return this.memoized('cluster', c, () => ({ name: c.name, owner: { kind: 'Service', name: c.service }, resource: this.cluster(c) }));
  }

  /** A proxyless client's listener and route configuration for each host of `vh`, memoized by it. */
  proxyless(vh: IrVirtualHost): { listener: NamedResource; route: NamedResource }[] {
    return this.memoized('proxyless', vh, () => {
      const owner: Owner = { kind: 'Route', name: vh.name };
      const needs = clustersOf([vh]);
      return vh.domains.map((host) => ({
        listener: { name: host, owner, needs: [host], resource: { name: host, api_listener: { api_listener: this.hcm(host, host, [vh], vh.policies, vh, owner) } } },
        route: { name: host, owner, needs, resource: { name: host, virtual_hosts: [this.virtualHost({ ...vh, domains: [host] })] } },
      }));
    });
  }

  virtualHost(vh: IrVirtualHost): Json {
    return { name: vh.name, domains: vh.domains, routes: vh.routes.map((rt) => this.route(rt, vh)) };
  }

  private route(r: IrRoute, vh: IrVirtualHost): Json {
    const action: Json =
      r.destinations.length === 1
        ? { cluster: r.destinations[0].cluster }
        : { weighted_clusters: { clusters: r.destinations.map((d) => ({ name: d.cluster, weight: { value: d.weight } })) } };
    const rule = r.name.slice(r.name.lastIndexOf('/') + 1);
    const out = this.decorate({ name: r.name, match: routeMatch(r.match), route: action }, r.policies, r, 'route', { kind: 'Route', name: vh.name, field: `spec.rules[${rule}]` });
    return this.group.kind === 'proxyless' ? markFilterConfigs(out) : out;
  }
}

/**
 * grpc-js-xds 1.14 drops an update it finds equal to its cached copy, and its
 * deep compare walks only the cached copy's keys: an entry added to a map (a
 * route's typed_per_filter_config going from {} to {fault}) or bytes appended
 * to an Any's value look "equal". The client ACKs such an update and never
 * applies it: a fault policy attached to a route of a connected client did
 * nothing. A proxyless route with filter configs therefore carries them once
 * as a digest in its metadata (absent before: a change the client sees;
 * a string: compared whole). Clients ignore route metadata.
 */
function markFilterConfigs(route: Json): Json {
  const configs = route.typed_per_filter_config as Json | undefined;
  if (!configs || !Object.keys(configs).length) return route;
  const metadata = (route.metadata ?? {}) as Json;
  const marker = { fields: { typed_per_filter_config: { stringValue: digest(JSON.stringify(configs)) } } };
  return { ...route, metadata: { ...metadata, filter_metadata: { ...((metadata.filter_metadata as Json) ?? {}), 'switchyard.io': marker } } };
}

/** A short, stable digest of a string (two 32-bit FNV-1a hashes): pure, no crypto needed to tell versions apart. */
export function digest(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}

function clustersOf(vhs: IrVirtualHost[]): string[] {
  return [...new Set(vhs.flatMap((vh) => vh.routes.flatMap((r) => r.destinations.map((d) => d.cluster))))].sort();
}

function sortByName(xs: NamedResource[]): NamedResource[] {
  return xs.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function routeMatch(m: RouteMatch) {
  const out: Record<string, unknown> =
    m.path !== undefined ? { path: m.path } : m.regex !== undefined ? { safe_regex: { regex: m.regex } } : { prefix: m.pathPrefix ?? '/' };
  if (m.headers?.length) out.headers = m.headers.map(headerMatcher);
  return out;
}

function headerMatcher(h: HeaderMatch) {
  const out: Record<string, unknown> = { name: h.name };
  if (h.present) out.present_match = true;
  else if (h.exact !== undefined) out.string_match = { exact: h.exact };
  else if (h.prefix !== undefined) out.string_match = { prefix: h.prefix };
  else if (h.regex !== undefined) out.string_match = { safe_regex: { regex: h.regex } };
  if (h.invert) out.invert_match = true;
  return out;
}

/** The EDS resource of one cluster for one group, alone (the EDS fast path), with what its plugins report. */
export function edsResource(c: IrCluster, group: NodeGroup, plugins: readonly PolicyPlugin[]): { resource: NamedResource; issues: TranslationIssue[] } {
  const r = new GroupRenderer(group, [...plugins].sort((a, b) => a.order - b.order));
  return { resource: r.eds(c), issues: r.issues() };
}

function loadAssignment(c: IrCluster): Json {
  return {
    cluster_name: c.name,
    endpoints: c.localities.map((l) => ({
      locality: { region: l.region, zone: l.zone, sub_zone: l.subZone },
      // grpc-js drops a locality without a weight: always set it.
      load_balancing_weight: { value: l.endpoints.reduce((a, e) => a + e.weight, 0) },
      lb_endpoints: l.endpoints.map((e) => ({
        endpoint: { address: { socket_address: { address: e.address, port_value: e.port } } },
        health_status: e.health,
        load_balancing_weight: { value: e.weight },
      })),
    })),
  };
}
