import type { HeaderMatch, RetrySettings, RouteMatch } from '../registry/model.js';
import { HCM_TYPE, HTTP_PROTOCOL_OPTIONS, ROUTER_TYPE, TYPE, type TypeUrl } from '../xds/envoy-protos.js';
import type { IR, IrCluster, IrHealthCheck, IrRoute, IrVirtualHost, TranslationIssue } from './ir.js';

/** Which clients a snapshot is for: Envoy nodes of one `node.cluster`, or proxyless gRPC clients. */
export interface NodeGroup {
  kind: 'envoy' | 'proxyless';
  /** Envoy node.cluster; empty for proxyless. */
  cluster: string;
}

export const groupKey = (g: NodeGroup) => (g.kind === 'proxyless' ? 'proxyless' : `envoy/${g.cluster}`);

/** The registry resource an xDS resource comes from (where its errors are reported). */
export interface Owner {
  kind: 'Service' | 'Route' | 'Listener';
  name: string;
}

/** One xDS resource as proto3-style JSON with snake_case names. */
export interface NamedResource {
  name: string;
  resource: Record<string, unknown>;
  owner: Owner;
  /** Names of other resources this one needs: listener → route config, route config → clusters. */
  needs?: string[];
}

export type GroupResources = Record<TypeUrl, NamedResource[]>;

const ADS = { ads: {}, resource_api_version: 'V3' };

const duration = (ms: number) => ({ seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 });

/**
 * IR → Envoy v3 resources for one node group. Pure; output sorted by name.
 * Envoy nodes get real listeners from Listener resources of their group;
 * proxyless gRPC clients get one API listener per route host, so `xds:///<host>` resolves.
 */
export function translateGroup(ir: IR, group: NodeGroup): { resources: GroupResources; issues: TranslationIssue[] } {
  const issues: TranslationIssue[] = [];
  const vhByName = new Map(ir.virtualHosts.map((v) => [v.name, v]));
  const listeners: NamedResource[] = [];
  const routes: NamedResource[] = [];
  const usedVhosts: IrVirtualHost[] = [];

  if (group.kind === 'proxyless') {
    for (const vh of ir.virtualHosts) {
      usedVhosts.push(vh);
      for (const host of vh.domains) {
        const owner: Owner = { kind: 'Route', name: vh.name };
        listeners.push({ name: host, owner, needs: [host], resource: { name: host, api_listener: { api_listener: hcm(host, host) } } });
        routes.push({ name: host, owner, needs: clustersOf([vh]), resource: { name: host, virtual_hosts: [virtualHost({ ...vh, domains: [host] }, group)] } });
      }
    }
  } else {
    for (const l of ir.listeners.filter((x) => x.group === group.cluster)) {
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
          filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: hcm(l.name, l.name) }] }],
        },
      });
      routes.push({ name: l.name, owner, needs: clustersOf(vhs), resource: { name: l.name, virtual_hosts: vhs.map((vh) => virtualHost(vh, group)) } });
    }
  }

  const wanted = new Set(clustersOf(usedVhosts));
  const clusters = ir.clusters.filter((c) => wanted.has(c.name));
  if (group.kind === 'proxyless') {
    const reported = new Set<string>();
    for (const c of clusters) {
      if (!c.healthCheck || reported.has(c.healthCheck.policy)) continue;
      reported.add(c.healthCheck.policy);
      issues.push({
        kind: 'Policy',
        name: c.healthCheck.policy,
        severity: c.healthCheck.runBy === 'envoy' ? 'error' : 'warning',
        field: 'spec.healthCheck.runBy',
        message: `proxyless gRPC clients do not run active health checks, so runBy ${c.healthCheck.runBy} is not sent to them${c.healthCheck.runBy === 'both' ? ' (the control plane still probes)' : '; use controlPlane or both'}`,
      });
    }
  }
  const svc = (c: IrCluster): Owner => ({ kind: 'Service', name: c.service });
  return {
    resources: {
      [TYPE.cluster]: clusters.map((c) => ({ name: c.name, owner: svc(c), resource: cluster(c, group) })),
      [TYPE.endpoint]: clusters.map(edsResource),
      [TYPE.listener]: sortByName(listeners),
      [TYPE.route]: sortByName(routes),
    } as GroupResources,
    issues,
  };
}

function clustersOf(vhs: IrVirtualHost[]): string[] {
  return [...new Set(vhs.flatMap((vh) => vh.routes.flatMap((r) => r.destinations.map((d) => d.cluster))))].sort();
}

function sortByName(xs: NamedResource[]): NamedResource[] {
  return xs.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function hcm(statPrefix: string, routeConfigName: string) {
  return {
    '@type': HCM_TYPE,
    stat_prefix: statPrefix,
    codec_type: 'AUTO',
    rds: { config_source: ADS, route_config_name: routeConfigName },
    http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER_TYPE } }],
  };
}

function virtualHost(vh: IrVirtualHost, group: NodeGroup) {
  return { name: vh.name, domains: vh.domains, routes: vh.routes.map((r) => route(r, group)) };
}

function route(r: IrRoute, group: NodeGroup) {
  const action: Record<string, unknown> =
    r.destinations.length === 1
      ? { cluster: r.destinations[0].cluster }
      : { weighted_clusters: { clusters: r.destinations.map((d) => ({ name: d.cluster, weight: { value: d.weight } })) } };
  if (r.timeoutMs !== undefined) {
    // gRPC clients read max_stream_duration; Envoy reads timeout.
    if (group.kind === 'proxyless') action.max_stream_duration = { max_stream_duration: duration(r.timeoutMs) };
    else action.timeout = duration(r.timeoutMs);
  }
  if (r.retry) action.retry_policy = retryPolicy(r.retry);
  return { name: r.name, match: routeMatch(r.match), route: action };
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

function retryPolicy(r: RetrySettings) {
  return {
    retry_on: (r.on?.length ? r.on : ['connect-failure', 'refused-stream', 'unavailable']).join(','),
    num_retries: { value: r.attempts },
    ...(r.perTryTimeoutMs ? { per_try_timeout: duration(r.perTryTimeoutMs) } : {}),
    ...(r.backoff
      ? { retry_back_off: { base_interval: duration(r.backoff.baseMs), ...(r.backoff.maxMs ? { max_interval: duration(r.backoff.maxMs) } : {}) } }
      : {}),
  };
}

function cluster(c: IrCluster, group: NodeGroup) {
  return {
    name: c.name,
    type: 'EDS',
    eds_cluster_config: { eds_config: ADS, service_name: c.name },
    connect_timeout: duration(c.connectTimeoutMs),
    lb_policy: 'ROUND_ROBIN',
    ...(group.kind === 'envoy' && c.healthCheck ? { health_checks: [healthCheck(c.healthCheck)] } : {}),
    // Envoy must speak HTTP/2 to gRPC upstreams; proxyless clients always do.
    ...(group.kind === 'envoy' && c.protocol === 'grpc'
      ? { typed_extension_protocol_options: { [HTTP_PROTOCOL_OPTIONS]: { '@type': `type.googleapis.com/${HTTP_PROTOCOL_OPTIONS}`, explicit_http_config: { http2_protocol_options: {} } } } }
      : {}),
  };
}

function healthCheck(h: IrHealthCheck) {
  const hex = (t: string) => ({ text: Buffer.from(t, 'utf8').toString('hex') });
  return {
    timeout: duration(h.timeoutMs),
    interval: duration(h.intervalMs),
    ...(h.jitterMs ? { interval_jitter: duration(h.jitterMs) } : {}),
    // Probe at the same pace with or without traffic, like the control plane does.
    no_traffic_interval: duration(h.intervalMs),
    healthy_threshold: { value: h.healthyThreshold },
    unhealthy_threshold: { value: h.unhealthyThreshold },
    ...(h.protocol === 'http'
      ? {
          http_health_check: {
            path: h.path ?? '/',
            ...(h.host ? { host: h.host } : {}),
            ...(h.method ? { method: h.method } : {}),
            expected_statuses: (h.expectedStatuses ?? [{ start: 200, end: 300 }]).map((r) => ({ start: r.start, end: r.end })),
          },
        }
      : h.protocol === 'tcp'
        ? { tcp_health_check: { ...(h.send ? { send: hex(h.send) } : {}), ...(h.expect ? { receive: [hex(h.expect)] } : {}) } }
        : { grpc_health_check: { ...(h.grpcService ? { service_name: h.grpcService } : {}) } }),
  };
}

/** The EDS resource of one cluster (also used alone by the EDS fast path). */
export function edsResource(c: IrCluster): NamedResource {
  return { name: c.name, owner: { kind: 'Service', name: c.service }, resource: loadAssignment(c) };
}

function loadAssignment(c: IrCluster) {
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
