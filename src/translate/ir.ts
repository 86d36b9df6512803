import type {
  EndpointSpec,
  PolicySpec,
  HeaderMatch,
  ListenerSpec,
  Resource,
  RetrySettings,
  RouteMatch,
  RouteSpec,
  ServiceSpec,
} from '../registry/model.js';

/** Everything translation reads: the registry at one store revision. */
export interface RegistrySnapshot {
  revision: number;
  resources: Resource[];
}

/** A problem found while translating, to be written onto the resource's status. */
export interface TranslationIssue {
  kind: Resource['kind'];
  name: string;
  service?: string;
  severity: 'error' | 'warning';
  field?: string;
  message: string;
  /** Node group the problem is specific to, when it is. */
  group?: string;
}

export type IrHealth = 'UNKNOWN' | 'HEALTHY' | 'UNHEALTHY' | 'DRAINING';

export interface IrEndpoint {
  name: string;
  address: string;
  port: number;
  weight: number;
  health: IrHealth;
}

export interface IrLocality {
  region: string;
  zone: string;
  subZone: string;
  endpoints: IrEndpoint[];
}

/** One upstream cluster: a whole service, or one subset of it. */
/** Active health checking that Envoy itself runs for a cluster (policy runBy envoy or both). */
export interface IrHealthCheck {
  policy: string;
  runBy: 'envoy' | 'both';
  protocol: 'http' | 'tcp' | 'grpc';
  intervalMs: number;
  timeoutMs: number;
  jitterMs?: number;
  healthyThreshold: number;
  unhealthyThreshold: number;
  path?: string;
  method?: string;
  host?: string;
  expectedStatuses?: { start: number; end: number }[];
  send?: string;
  expect?: string;
  grpcService?: string;
}

export interface IrCluster {
  name: string;
  service: string;
  subset?: string;
  healthCheck?: IrHealthCheck;
  protocol: ServiceSpec['protocol'];
  connectTimeoutMs: number;
  localities: IrLocality[];
}

export interface IrDestination {
  cluster: string;
  weight: number;
}

export interface IrRoute {
  /** `<route>/<rule index>` */
  name: string;
  match: RouteMatch;
  destinations: IrDestination[];
  timeoutMs?: number;
  retry?: RetrySettings;
}

/** One Route resource as a virtual host. */
export interface IrVirtualHost {
  name: string;
  domains: string[];
  routes: IrRoute[];
}

export interface IrListener {
  name: string;
  group: string;
  address: string;
  port: number;
  protocol: ListenerSpec['protocol'];
  virtualHosts: string[];
}

/** The intermediate model: registry semantics resolved, no Envoy types yet. */
export interface IR {
  revision: number;
  clusters: IrCluster[];
  virtualHosts: IrVirtualHost[];
  listeners: IrListener[];
  issues: TranslationIssue[];
}

const HEALTH: Record<string, IrHealth> = { unknown: 'UNKNOWN', healthy: 'HEALTHY', unhealthy: 'UNHEALTHY', draining: 'DRAINING' };

/** Cluster name for a service, or one of its subsets. */
export const clusterName = (service: string, subset?: string) => (subset ? `${service}/${subset}` : service);

const byName = <T extends { name: string }>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/**
 * Registry → IR. Pure and deterministic: same input, same output, sorted.
 * Problems are collected as issues on the offending resource; the rest still translates.
 */
export function buildIR(snap: RegistrySnapshot): IR {
  const issues: TranslationIssue[] = [];
  const of = <S>(kind: Resource['kind']) => (snap.resources.filter((r) => r.kind === kind) as Resource<S>[]).sort(byName);
  const services = of<ServiceSpec>('Service');
  const routes = of<RouteSpec>('Route');
  const listeners = of<ListenerSpec>('Listener');
  const endpointsBySvc = new Map<string, Resource<EndpointSpec>[]>();
  for (const ep of of<EndpointSpec>('Endpoint')) {
    const list = endpointsBySvc.get(ep.service!) ?? [];
    list.push(ep);
    endpointsBySvc.set(ep.service!, list);
  }

  // Clusters only for what routes use: a service is sent when some route points at it.
  const used = new Set<string>();
  for (const r of routes) for (const rule of r.spec.rules) for (const b of rule.backends) if (b.weight > 0) used.add(clusterName(b.service, b.subset));

  const clusters: IrCluster[] = [];
  const policies = new Map(of<PolicySpec>('Policy').map((p) => [p.name, p]));
  for (const svc of services) {
    const out = serviceClusters(svc, endpointsBySvc.get(svc.name) ?? [], used, envoyCheck(svc, policies));
    clusters.push(...out.clusters);
    issues.push(...out.issues);
  }

  const hostOwner = new Map<string, string>();
  const virtualHosts: IrVirtualHost[] = [];
  for (const r of routes) {
    const domains: string[] = [];
    r.spec.hosts.forEach((h, i) => {
      const owner = hostOwner.get(h);
      if (owner) issues.push({ kind: 'Route', name: r.name, severity: 'error', field: `spec.hosts[${i}]`, message: `host ${h} is already served by Route ${owner}; ignored here` });
      else {
        hostOwner.set(h, r.name);
        domains.push(h);
      }
    });
    if (!domains.length) continue;
    virtualHosts.push({
      name: r.name,
      domains: domains.sort(),
      routes: r.spec.rules.map((rule, i) => ({
        name: `${r.name}/${i}`,
        match: rule.match ?? { pathPrefix: '/' },
        destinations: rule.backends.filter((b) => b.weight > 0).map((b) => ({ cluster: clusterName(b.service, b.subset), weight: b.weight })),
        ...(rule.timeoutMs !== undefined ? { timeoutMs: rule.timeoutMs } : {}),
        ...(rule.retry ? { retry: rule.retry } : {}),
      })),
    });
  }
  const vhNames = new Set(virtualHosts.map((v) => v.name));

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
    irListeners.push({
      name: l.name,
      group: l.spec.group,
      address: l.spec.address,
      port: l.spec.port,
      protocol: l.spec.protocol,
      virtualHosts: l.spec.routes.filter((r) => vhNames.has(r)).sort(),
    });
  }

  return { revision: snap.revision, clusters: clusters.sort(byName), virtualHosts, listeners: irListeners, issues };
}

/** The clusters of one service that routes use, with its endpoints grouped by locality. */
/** The service's healthCheck policy, when Envoy should run it. */
function envoyCheck(svc: Resource<ServiceSpec>, policies: Map<string, Resource<PolicySpec>>): IrHealthCheck | undefined {
  for (const name of svc.spec.policies ?? []) {
    const p = policies.get(name);
    if (p?.spec.type !== 'healthCheck') continue;
    const h = p.spec.healthCheck as Omit<IrHealthCheck, 'policy' | 'runBy'> & { runBy?: string; initialState?: string };
    if (h.runBy !== 'envoy' && h.runBy !== 'both') return undefined;
    const { runBy, initialState: _i, ...rest } = h;
    return { policy: p.name, runBy, ...rest, healthyThreshold: h.healthyThreshold ?? 2, unhealthyThreshold: h.unhealthyThreshold ?? 2 };
  }
  return undefined;
}

function serviceClusters(svc: Resource<ServiceSpec>, eps: Resource<EndpointSpec>[], used: Set<string>, check?: IrHealthCheck): { clusters: IrCluster[]; issues: TranslationIssue[] } {
  const clusters: IrCluster[] = [];
  const issues: TranslationIssue[] = [];
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
      ...(check ? { healthCheck: check } : {}),
      localities: groupLocalities(members),
    });
  }
  return { clusters, issues };
}

/**
 * The EDS fast path: `ir` with the clusters of `changed` services recomputed
 * from their current endpoints; routes, listeners and other clusters are reused.
 * Equal to a full buildIR of the same registry state (a test checks this).
 */
export function patchEndpoints(ir: IR, revision: number, changed: { service: Resource<ServiceSpec>; endpoints: Resource<EndpointSpec>[] }[]): { ir: IR; clusters: Set<string> } {
  const names = new Set(changed.map((c) => c.service.name));
  const used = new Set(ir.clusters.filter((c) => names.has(c.service)).map((c) => c.name));
  const fresh = new Map<string, IrCluster>();
  const issues = ir.issues.filter((i) => !(i.kind === 'Service' && names.has(i.name) && / selects no endpoints/.test(i.message)));
  for (const c of changed) {
    const check = ir.clusters.find((cl) => cl.service === c.service.name)?.healthCheck;
    const out = serviceClusters(c.service, [...c.endpoints].sort(byName), used, check);
    for (const cl of out.clusters) fresh.set(cl.name, cl);
    issues.push(...out.issues);
  }
  const order = (i: TranslationIssue) => ['Service', 'Route', 'Listener'].indexOf(i.kind);
  issues.sort((a, b) => order(a) - order(b) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return {
    ir: { ...ir, revision, clusters: ir.clusters.map((c) => fresh.get(c.name) ?? c), issues },
    clusters: new Set(fresh.keys()),
  };
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

export type { HeaderMatch };
