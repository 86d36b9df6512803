import type { CheckedState } from '../model/health.js';
import { KINDS, type EndpointSpec, type ListenerSpec, type PolicySpec, type Resource, type RolloutSpec, type RouteRule, type RouteSpec, type ServiceSpec } from '../model/resources.js';
import { mergeEndpoints } from './endpoints.js';
import { clusterIndex, shareIndex } from './positions.js';
import type { IrMemo, RoutePart } from './memo.js';
import { type PolicyPlugin, renders } from './plugin.js';
import { byName, clusterName, type IR, type IrCluster, type IrDestination, type IrHealth, type IrListener, type IrLocality, type IrVirtualHost, type PolicyMap, type TranslationIssue, usable } from './types.js';

/** Everything translation reads: the registry at one store revision, plus what coordination knows about endpoints. */
export interface TranslateInput {
  revision: number;
  /** Registry resources, durable endpoints included. */
  resources: Resource[];
  /** Heartbeat (TTL) endpoints by service. */
  heartbeat?: ReadonlyMap<string, readonly Resource<EndpointSpec>[]>;
  /** Active health-check results: service → endpoint → state. */
  checked?: ReadonlyMap<string, ReadonlyMap<string, CheckedState>>;
  /** Panic guard threshold, 0..1 (default 0.5). */
  panicShare?: number;
}

/** The inputs of one service's clusters (what the EDS fast path recomputes). */
export interface ServiceInput {
  service: Resource<ServiceSpec>;
  durable: readonly Resource<EndpointSpec>[];
  heartbeat?: readonly Resource<EndpointSpec>[];
  checked?: ReadonlyMap<string, CheckedState>;
}

const HEALTH: Record<string, IrHealth> = { unknown: 'UNKNOWN', healthy: 'HEALTHY', unhealthy: 'UNHEALTHY', draining: 'DRAINING' };
const NO_CHECKS: ReadonlyMap<string, CheckedState> = new Map();

/**
 * Registry → IR. Pure and deterministic: same input, same output, sorted.
 * Endpoints are merged here (durable, heartbeat, health), and policies are
 * resolved once onto the clusters and routes they decorate. Problems are
 * collected as issues on the offending resource; the rest still translates.
 * With a `memo` from the previous build, services and routes whose inputs are
 * the same objects reuse what that build computed (the output is the same).
 */
export function buildIR(input: TranslateInput, plugins: readonly PolicyPlugin[], memo?: IrMemo): IR {
  memo?.begin(plugins);
  const issues: TranslationIssue[] = [];
  // One pass over the registry (most of it is endpoints), then each kind sorted by name.
  const byKind = new Map<Resource['kind'], Resource[]>();
  const durableBySvc = new Map<string, Resource<EndpointSpec>[]>();
  for (const r of input.resources) {
    if (r.kind === 'Endpoint') {
      const list = durableBySvc.get(r.service!);
      if (list) list.push(r as unknown as Resource<EndpointSpec>);
      else durableBySvc.set(r.service!, [r as unknown as Resource<EndpointSpec>]);
      continue;
    }
    const list = byKind.get(r.kind);
    if (list) list.push(r);
    else byKind.set(r.kind, [r]);
  }
  // Endpoint lists are short and usually in order already: check before sorting.
  for (const list of durableBySvc.values()) if (!isSorted(list)) list.sort(byName);
  const of = <S>(kind: Resource['kind']) => {
    const list = (byKind.get(kind) ?? []) as Resource<S>[];
    return memo ? memo.sortByName(kind, list) : list.sort(byName);
  };
  const services = of<ServiceSpec>('Service');
  const routes = of<RouteSpec>('Route');
  const listeners = of<ListenerSpec>('Listener');
  const policies = new Map(of<PolicySpec>('Policy').map((p) => [p.name, p]));
  const resolver = new PolicyResolver(policies, plugins);

  // Clusters only for what routes use (and connection-manager settings, e.g. a trace collector): a service is sent when something points at it.
  const used = usedClusters(routes);
  for (const c of resolver.extraClusters([...routes, ...listeners])) used.add(c);
  // A rollout judges its stable and canary subsets on the load their clients report.
  const reported = new Set(of<RolloutSpec>('Rollout').flatMap((r) => [clusterName(r.spec.service, r.spec.stable), clusterName(r.spec.service, r.spec.canary)]));
  const clusters: IrCluster[] = [];
  const endpointIssues: Record<string, TranslationIssue[]> = {};
  const svcByName = new Map(services.map((s) => [s.name, s]));
  const panicShare = input.panicShare ?? 0.5;
  for (const svc of services) {
    const si: ServiceInput = { service: svc, durable: durableBySvc.get(svc.name) ?? [], heartbeat: input.heartbeat?.get(svc.name), checked: input.checked?.get(svc.name) };
    const compute = () => serviceClusters(si, used, resolver.forService(svc), panicShare, reported);
    const out = memo ? memo.services.get(svc.name, serviceKey(si, policies, used, reported, panicShare), compute) : compute();
    clusters.push(...out.clusters);
    if (out.issues.length) endpointIssues[svc.name] = out.issues;
  }

  const clusterByName = new Map(clusters.map((c) => [c.name, c]));
  const hostOwner = new Map<string, string>();
  const virtualHosts: IrVirtualHost[] = [];
  const order: RoutePart[] = [];
  for (const r of routes) {
    const domains: string[] = [];
    const from = issues.length;
    r.spec.hosts.forEach((h, i) => {
      const owner = hostOwner.get(h);
      if (owner) issues.push({ kind: 'Route', name: r.name, severity: 'error', field: `spec.hosts[${i}]`, message: `host ${h} is already served by Route ${owner}; ignored here` });
      else {
        hostOwner.set(h, r.name);
        domains.push(h);
      }
    });
    const part: RoutePart = { route: r, domains, hostIssues: issues.slice(from) };
    order.push(part);
    if (!domains.length) continue;
    const compute = () => routeVirtualHost(r, domains, resolver, svcByName, clusterByName);
    const out = memo ? memo.routes.get(r.name, routeKey(r, domains, policies, svcByName, clusterByName), compute) : compute();
    part.vh = virtualHosts.length;
    virtualHosts.push(out.vh);
    for (const i of out.raised) issues.push(i);
  }
  const listenersFrom = issues.length;
  const vhNames = new Set(virtualHosts.map((v) => v.name));
  const routeByName = new Map(routes.map((r) => [r.name, r]));

  const irListeners: IrListener[] = [];
  const bound = new Map<string, string>();
  for (const l of listeners) {
    if (l.spec.protocol === 'tcp') {
      issues.push({ kind: 'Listener', name: l.name, severity: 'error', field: 'spec.protocol', message: 'tcp listeners are not translated yet; use http or grpc' });
      continue;
    }
    const at = `${l.spec.group}|${l.spec.address}:${l.spec.port}`;
    if (bound.has(at)) {
      issues.push({ kind: 'Listener', name: l.name, severity: 'error', field: 'spec.port', message: `${l.spec.address}:${l.spec.port} is already bound by Listener ${bound.get(at)} in group ${l.spec.group}` });
      continue;
    }
    bound.set(at, l.name);
    const served = l.spec.routes.filter((r) => vhNames.has(r)).sort();
    const cm = resolver.forListener(l, served.map((n) => routeByName.get(n)!), issues);
    irListeners.push({
      name: l.name,
      group: l.spec.group,
      address: l.spec.address,
      port: l.spec.port,
      protocol: l.spec.protocol,
      virtualHosts: served,
      ...(cm ? { policies: cm } : {}),
    });
  }

  const listenerIssues = issues.slice(listenersFrom);
  const resolverIssues = resolver.issues([...services, ...routes, ...listeners]);
  issues.push(...resolverIssues);
  memo?.end({ plugins, policies, services: svcByName, order, index: new Map(order.map((p, i) => [p.route.name, i])), listenerIssues, resolverIssues });
  return { revision: input.revision, clusters: clusters.sort(byName), virtualHosts, listeners: irListeners, issues: sortIssues([...issues, ...Object.values(endpointIssues).flat()]), endpointIssues };
}

/**
 * The EDS fast path: `ir` with the clusters of `changed` services recomputed
 * from their current endpoints; routes, listeners and other clusters are reused.
 * Equal to a full buildIR of the same state (a test checks this). Undefined
 * when a cluster gains or loses its last usable endpoint, which changes routes.
 */
export function patchEndpoints(ir: IR, revision: number, changed: ServiceInput[], panicShare = 0.5): { ir: IR; clusters: Set<string> } | undefined {
  // Through the index, not scans of every cluster: a flip's cost follows the service, not the catalogue.
  const index = clusterIndex(ir.clusters);
  const ownOf = (service: string) => (index.byService.get(service) ?? []).map((i) => ir.clusters[i]);
  const names = new Set(changed.map((c) => c.service.name));
  const used = new Set([...names].flatMap((n) => ownOf(n).map((c) => c.name)));
  const fresh = new Map<string, IrCluster>();
  const endpointIssues = { ...ir.endpointIssues };
  for (const c of changed) {
    const own = ownOf(c.service.name);
    const out = serviceClusters(c, used, own[0]?.policies, panicShare, new Set(own.filter((cl) => cl.loadReporting).map((cl) => cl.name)));
    for (const cl of out.clusters) fresh.set(cl.name, cl);
    // A cluster gaining or losing its last usable endpoint changes routes (see destinations): that needs a full build.
    if (out.clusters.some((cl) => usable(cl) !== usable(ir.clusters[index.byName.get(cl.name)!]))) return undefined;
    if (out.issues.length) endpointIssues[c.service.name] = out.issues;
    else delete endpointIssues[c.service.name];
  }
  const others = ir.issues.filter((i) => !(i.kind === 'Service' && names.has(i.name) && ir.endpointIssues[i.name]?.includes(i)));
  // Same names at the same places: the copy shares the index.
  const clusters = ir.clusters.slice();
  for (const [name, cl] of fresh) {
    const at = index.byName.get(name);
    if (at !== undefined) clusters[at] = cl;
  }
  shareIndex(ir.clusters, clusters);
  return {
    ir: { ...ir, revision, clusters, issues: sortIssues([...others, ...[...names].flatMap((n) => endpointIssues[n] ?? [])]), endpointIssues },
    clusters: new Set(fresh.keys()),
  };
}

/** What a cluster lookup needs (a Map, or a search of the IR's sorted clusters). */
type ClusterLookup = Pick<Map<string, IrCluster>, 'get' | 'has'>;

/** A Route's virtual host and the issues its backends raised: what a full build and patchRoutes both compute. */
function routeVirtualHost(r: Resource<RouteSpec>, domains: string[], resolver: PolicyResolver, svcByName: Map<string, Resource<ServiceSpec>>, clusters: ClusterLookup): { vh: IrVirtualHost; raised: TranslationIssue[] } {
  const raised: TranslationIssue[] = [];
  const cm = resolver.forRoute(r);
  const vh: IrVirtualHost = {
    name: r.name,
    domains: [...domains].sort(),
    ...(cm ? { policies: cm } : {}),
    routes: r.spec.rules.map((rule, i) => {
      const p = resolver.forRule(r, rule, svcByName);
      return {
        name: `${r.name}/${i}`,
        match: rule.match ?? { pathPrefix: '/' },
        destinations: destinations(r, i, rule, clusters, raised),
        ...(p ? { policies: p } : {}),
      };
    }),
  };
  return { vh, raised };
}

/**
 * The route fast path: `ir` with the virtual hosts of `changed` Routes
 * computed again, everything else reused. It applies when nothing but these
 * Routes changed since the build `memo` remembers (endpoint patches aside),
 * and each keeps its hosts, its attached policies and the set of clusters it
 * sends to: then clusters, listeners and host ownership are what they were.
 * Equal to a full buildIR of the same state (test/unit/incremental-translation
 * checks it). Undefined when it does not apply.
 */
export function patchRoutes(ir: IR, revision: number, changed: readonly Resource<RouteSpec>[], memo: IrMemo, plugins: readonly PolicyPlugin[]): IR | undefined {
  const last = memo.lastBuild(plugins);
  if (!last) return undefined;
  const resolver = new PolicyResolver(last.policies, plugins);
  const clusters = sortedLookup(ir.clusters);
  const virtualHosts = [...ir.virtualHosts];
  const done: { part: RoutePart; r: Resource<RouteSpec>; key: unknown[]; out: { vh: IrVirtualHost; raised: TranslationIssue[] } }[] = [];
  for (const r of new Map(changed.map((c) => [c.name, c])).values()) {
    const part = last.order[last.index.get(r.name) ?? -1];
    if (!part || part.vh === undefined) return undefined;
    const old = part.route.spec;
    if (!sameList(old.hosts, r.spec.hosts) || !sameList(old.policies ?? [], r.spec.policies ?? []) || !sameList([...usedClusters([part.route])].sort(), [...usedClusters([r])].sort())) return undefined;
    const out = routeVirtualHost(r, part.domains, resolver, last.services, clusters);
    done.push({ part, r, key: routeKey(r, part.domains, last.policies, last.services, clusters), out });
  }
  // When every changed route raises what it raised before, the IR's issues are the same list: no walk of every route.
  const sameRaised = done.every(({ r, out }) => JSON.stringify(memo.routes.peek<{ raised: TranslationIssue[] }>(r.name)?.raised) === JSON.stringify(out.raised));
  for (const { part, r, key, out } of done) {
    virtualHosts[part.vh!] = out.vh;
    part.route = r;
    memo.routes.replace(r.name, key, out);
  }
  if (sameRaised) return { ...ir, revision, virtualHosts };
  // The issues in the order a full build raises them (then sorted the same way).
  const issues: TranslationIssue[] = [];
  for (const part of last.order) {
    issues.push(...part.hostIssues);
    if (part.vh !== undefined) issues.push(...memo.routes.peek<{ raised: TranslationIssue[] }>(part.route.name)!.raised);
  }
  issues.push(...last.listenerIssues, ...last.resolverIssues);
  return { ...ir, revision, virtualHosts, issues: sortIssues([...issues, ...Object.values(ir.endpointIssues).flat()]) };
}

const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** Lookup by binary search in clusters sorted by name (the IR's order), without building a map of all of them. */
function sortedLookup(sorted: readonly IrCluster[]): ClusterLookup {
  const get = (name: string) => {
    let lo = 0;
    let hi = sorted.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const n = sorted[mid].name;
      if (n === name) return sorted[mid];
      if (n < name) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  };
  return { get, has: (name: string) => get(name) !== undefined };
}

/**
 * A rule's weighted destinations. A backend whose cluster has no usable
 * endpoint (none HEALTHY or UNKNOWN) is left out while others can take its
 * share: the remaining weights keep their proportions. A subset that is
 * drained or lost so never fails its share of calls; the Route and the
 * Service say Degraded. With no usable backend at all, the rule stays as it is.
 */
function destinations(route: Resource<RouteSpec>, i: number, rule: RouteRule, clusters: ClusterLookup, issues: TranslationIssue[]): IrDestination[] {
  const all = rule.backends.map((b, j) => ({ j, b, cluster: clusterName(b.service, b.subset) })).filter((x) => x.b.weight > 0);
  const ok = all.filter((x) => clusters.has(x.cluster) && usable(clusters.get(x.cluster)!));
  const out = (xs: typeof all) => xs.map((x) => ({ cluster: x.cluster, weight: x.b.weight }));
  if (ok.length === all.length) return out(all);
  if (!ok.length) {
    issues.push({ kind: 'Route', name: route.name, severity: 'warning', reason: 'Degraded', field: `spec.rules[${i}].backends`, message: `no backend of rule ${i} has usable endpoints: its calls fail until one does` });
    return out(all);
  }
  const total = all.reduce((a, x) => a + x.b.weight, 0);
  for (const x of all) {
    if (ok.includes(x)) continue;
    const what = x.b.subset ? `subset ${x.b.subset} of Service ${x.b.service}` : `Service ${x.b.service}`;
    issues.push({ kind: 'Route', name: route.name, severity: 'warning', reason: 'Degraded', field: `spec.rules[${i}].backends[${x.j}]`, message: `${what} has no usable endpoints: its weight (${x.b.weight} of ${total}) goes to the other backends of rule ${i}` });
    issues.push({ kind: 'Service', name: x.b.service, severity: 'warning', reason: 'Degraded', message: `${x.b.subset ? `subset ${x.b.subset}` : 'the service'} has no usable endpoints; Route ${route.name} rule ${i} sends its share to the other backends` });
  }
  return out(ok);
}

function isSorted(list: { name: string }[]): boolean {
  for (let i = 1; i < list.length; i++) if (list[i - 1].name > list[i].name) return false;
  return true;
}

/** Delimits the parts of a memo key (a value no input can be). */
const PART = Symbol('part');

/** Policy resources attached by name (undefined where none exists): what attached settings are resolved from. */
const attachedPolicies = (names: string[] | undefined, policies: Map<string, Resource<PolicySpec>>) => (names ?? []).map((n) => policies.get(n));

/** Everything a service's clusters are computed from, as identities and flags (see IrMemo). */
function serviceKey(si: ServiceInput, policies: Map<string, Resource<PolicySpec>>, used: Set<string>, reported: ReadonlySet<string>, panicShare: number): unknown[] {
  const svc = si.service;
  const key: unknown[] = [svc, panicShare, ...attachedPolicies(svc.spec.policies, policies), PART, ...si.durable, PART, ...(si.heartbeat ?? []), PART];
  for (const [name, state] of si.checked ?? NO_CHECKS) key.push(name, state);
  key.push(PART);
  for (const subset of [undefined, ...(svc.spec.subsets ?? []).map((s) => s.name)]) {
    const name = clusterName(svc.name, subset);
    key.push(used.has(name), reported.has(name));
  }
  return key;
}

/** Everything a Route's virtual host is computed from: the route, its hosts, attached policies, and its backends (services and whether their clusters are usable). */
function routeKey(r: Resource<RouteSpec>, domains: string[], policies: Map<string, Resource<PolicySpec>>, services: Map<string, Resource<ServiceSpec>>, clusters: ClusterLookup): unknown[] {
  const key: unknown[] = [r, domains.join('\u0000'), ...attachedPolicies(r.spec.policies, policies)];
  for (const rule of r.spec.rules)
    for (const b of rule.backends) {
      const svc = services.get(b.service);
      const c = clusters.get(clusterName(b.service, b.subset));
      key.push(PART, svc, ...attachedPolicies(svc?.spec.policies, policies), c ? usableOf(c) : 'missing');
    }
  return key;
}

const usableMemo = new WeakMap<IrCluster, boolean>();
/** usable(), once per cluster object (a route change checks every backend again). */
function usableOf(c: IrCluster): boolean {
  let u = usableMemo.get(c);
  if (u === undefined) usableMemo.set(c, (u = usable(c)));
  return u;
}

function usedClusters(routes: Resource<RouteSpec>[]): Set<string> {
  const used = new Set<string>();
  for (const r of routes) for (const rule of r.spec.rules) for (const b of rule.backends) if (b.weight > 0) used.add(clusterName(b.service, b.subset));
  return used;
}

/** Issues sorted by kind (dependency order) then name; stable otherwise. */
function sortIssues(list: TranslationIssue[]): TranslationIssue[] {
  const order = (i: TranslationIssue) => KINDS.indexOf(i.kind);
  return list.sort((a, b) => order(a) - order(b) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The clusters of one service that routes use, with its endpoints merged and grouped by locality. */
function serviceClusters(input: ServiceInput, used: Set<string>, policies: PolicyMap | undefined, panicShare: number, reported: ReadonlySet<string>): { clusters: IrCluster[]; issues: TranslationIssue[] } {
  const svc = input.service;
  const clusters: IrCluster[] = [];
  const merged = mergeEndpoints(svc.name, { durable: input.durable, heartbeat: input.heartbeat ?? [], checked: input.checked ?? NO_CHECKS }, panicShare);
  const issues: TranslationIssue[] = [];
  const eps = merged.endpoints.sort(byName);
  const subsets = [undefined, ...(svc.spec.subsets ?? []).map((s) => s.name)];
  for (const subset of subsets) {
    const name = clusterName(svc.name, subset);
    if (!used.has(name)) continue;
    const selector = subset ? svc.spec.subsets!.find((s) => s.name === subset)!.labels : {};
    const members = eps.filter((e) => Object.entries(selector).every(([k, v]) => e.spec.labels?.[k] === v));
    if (members.length === 0)
      issues.push({
        kind: 'Service',
        name: svc.name,
        severity: 'warning',
        ...(subset ? { field: `spec.subsets[${subsets.indexOf(subset) - 1}]` } : {}),
        message: `${subset ? `subset ${subset}` : 'service'} selects no endpoints; routes to it fail until one registers`,
      });
    clusters.push({
      name,
      service: svc.name,
      ...(subset ? { subset } : {}),
      protocol: svc.spec.protocol,
      connectTimeoutMs: svc.spec.connectTimeoutMs ?? 1000,
      ...(policies ? { policies } : {}),
      ...(reported.has(name) ? { loadReporting: true as const } : {}),
      localities: groupLocalities(members),
    });
  }
  return { clusters, issues: [...issues, ...merged.issues] };
}

function groupLocalities(eps: Resource<EndpointSpec>[]): IrLocality[] {
  const map = new Map<string, IrLocality>();
  for (const e of eps) {
    const loc = { region: e.spec.locality?.region ?? '', zone: e.spec.locality?.zone ?? '', subZone: e.spec.locality?.subZone ?? '' };
    const key = `${loc.region}\u0000${loc.zone}\u0000${loc.subZone}`;
    if (!map.has(key)) map.set(key, { ...loc, endpoints: [] });
    map.get(key)!.endpoints.push({
      name: e.name,
      address: e.spec.address,
      port: e.spec.port,
      weight: e.spec.weight ?? 1,
      health: HEALTH[e.spec.health ?? 'unknown'],
    });
  }
  return [...map.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, l]) => ({ ...l, endpoints: l.endpoints.sort(byName) }));
}

/**
 * Resolves attached policies onto IR objects, once per build, without naming
 * any type: what a type decorates and how a rule's inline fields map to it
 * come from its plugin.
 */
class PolicyResolver {
  private readonly byType: Map<string, PolicyPlugin>;
  private readonly routeTypes: Set<string>;
  private readonly memo = new Map<string, PolicyMap | undefined>();

  constructor(
    private readonly policies: Map<string, Resource<PolicySpec>>,
    plugins: readonly PolicyPlugin[],
  ) {
    this.byType = new Map(plugins.map((p) => [p.type, p]));
    this.routeTypes = new Set(plugins.filter((p) => (p.attachTo.includes('Route') && !p.connectionManager) || p.route).map((p) => p.type));
  }

  /** Policies attached to a service that decorate its clusters, by type (route-level types go to its routes instead). */
  forService(svc: Resource<ServiceSpec>): PolicyMap | undefined {
    return this.attached(svc.spec.policies, 'cluster');
  }

  /**
   * A route rule's policies: for each route-level type, the route's Policy if
   * it has one, else the service's (when every backend is that one service);
   * then the rule's inline settings, which win (a plugin's `inline` may build on
   * the attached settings, like timeoutMs replacing only requestMs).
   */
  forRule(route: Resource<RouteSpec>, rule: RouteRule, services: Map<string, Resource<ServiceSpec>>): PolicyMap | undefined {
    const targets = new Set(rule.backends.filter((b) => b.weight > 0).map((b) => b.service));
    const svc = targets.size === 1 ? services.get([...targets][0]) : undefined;
    const out: PolicyMap = { ...(svc ? this.attached(svc.spec.policies, 'route') : undefined), ...this.attached(route.spec.policies, 'route') };
    for (const plugin of this.byType.values()) {
      const base = out[plugin.type];
      const inline = plugin.inline?.(rule, base?.settings);
      if (inline) out[plugin.type] = { ...(base?.policy ? { policy: base.policy } : {}), inline: true, settings: inline };
    }
    return Object.keys(out).length ? sortByOrder(out, this.byType) : undefined;
  }

  /** Types kept on clusters: those with a cluster hook, and service-only types (so the IR shows them even before they render). */
  private clusterTypes(type: string): boolean {
    const p = this.byType.get(type);
    return !p || !!p.cluster || !!p.loadAssignment || (!this.routeTypes.has(type) && !p.connectionManager);
  }

  /** A Route's connection-manager policies (what its hosts' proxyless API listeners are rendered with). */
  forRoute(route: Resource<RouteSpec>): PolicyMap | undefined {
    return this.attached(route.spec.policies, 'listener');
  }

  /**
   * A Listener's connection-manager policies: for each type, its own Policy,
   * else the first of its routes' (by route name). A connection manager has
   * one setting of a type: another route's different Policy is reported as
   * overridden rather than silently dropped.
   */
  forListener(l: Resource<ListenerSpec>, routes: Resource<RouteSpec>[], issues: TranslationIssue[]): PolicyMap | undefined {
    const out: PolicyMap = { ...this.attached(l.spec.policies, 'listener') };
    const from = new Map(Object.keys(out).map((t) => [t, `its own Policy ${out[t].policy}`]));
    for (const r of routes)
      for (const [type, p] of Object.entries(this.attached(r.spec.policies, 'listener') ?? {})) {
        if (!out[type]) {
          out[type] = p;
          from.set(type, `Policy ${p.policy} of Route ${r.name}`);
        } else if (out[type].policy !== p.policy)
          issues.push({ kind: 'Policy', name: p.policy!, severity: 'warning', reason: 'Overridden', message: `Listener ${l.name} serves Route ${r.name} with ${from.get(type)}: one ${type} policy applies per listener` });
      }
    return Object.keys(out).length ? sortByOrder(out, this.byType) : undefined;
  }

  /** Clusters that connection-manager policies attached to these resources send to (see PolicyPlugin.clusters). */
  extraClusters(attachedTo: Resource<{ policies?: string[] }>[]): string[] {
    return attachedTo.flatMap((r) => Object.entries(this.attached(r.spec.policies, 'listener') ?? {}).flatMap(([type, p]) => this.byType.get(type)?.clusters?.(p.settings) ?? []));
  }

  /** NotRendered for every attached policy whose type no plugin renders yet. */
  issues(holders: Resource<{ policies?: string[] }>[]): TranslationIssue[] {
    const attached = new Set(holders.flatMap((r) => r.spec.policies ?? []));
    const out: TranslationIssue[] = [];
    for (const name of [...attached].sort()) {
      const p = this.policies.get(name);
      if (!p) continue;
      const plugin = this.byType.get(p.spec.type);
      if (plugin && renders(plugin)) continue;
      out.push({ kind: 'Policy', name, severity: 'warning', reason: 'NotRendered', field: 'spec.type', message: `policy type ${p.spec.type} is not rendered into xDS yet: it has no effect on proxies` });
    }
    return out;
  }

  private decorates(type: string, target: 'cluster' | 'route' | 'listener'): boolean {
    if (target === 'listener') return !!this.byType.get(type)?.connectionManager;
    return target === 'route' ? this.routeTypes.has(type) : this.clusterTypes(type);
  }

  /** Attached policies by type (the first of a type wins), of the types that decorate `target`. */
  private attached(names: string[] | undefined, target: 'cluster' | 'route' | 'listener'): PolicyMap | undefined {
    if (!names?.length) return undefined;
    const key = `${target}\u0000${names.join('\u0000')}`;
    if (this.memo.has(key)) return this.memo.get(key);
    const out: PolicyMap = {};
    for (const name of names) {
      const p = this.policies.get(name);
      if (!p || out[p.spec.type] || !this.decorates(p.spec.type, target)) continue;
      out[p.spec.type] = { policy: name, settings: (p.spec[p.spec.type] ?? {}) as Record<string, unknown> };
    }
    const result = Object.keys(out).length ? sortByOrder(out, this.byType) : undefined;
    this.memo.set(key, result);
    return result;
  }

}

/** A policy map with its keys in plugin order, so output is the same whatever the attachment order. */
function sortByOrder(m: PolicyMap, byType: Map<string, PolicyPlugin>): PolicyMap {
  const rank = (t: string) => byType.get(t)?.order ?? Number.MAX_SAFE_INTEGER;
  return Object.fromEntries(Object.entries(m).sort(([a], [b]) => rank(a) - rank(b) || (a < b ? -1 : 1)));
}
