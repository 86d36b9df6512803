import type { Kind, RouteMatch, ServiceSpec, ListenerSpec } from '../model/resources.js';

/** Which clients a snapshot is for: Envoy nodes of one `node.cluster`, or proxyless gRPC clients. */
export interface NodeGroup {
  kind: 'envoy' | 'proxyless';
  /** Envoy node.cluster; empty for proxyless. */
  cluster: string;
  /**
   * The clients' node.locality, when they send one. Clients of one group and
   * locality get one snapshot; locality only changes EDS (failover priorities),
   * so every other resource is still encoded once for all of them.
   */
  locality?: { region: string; zone: string; subZone: string };
}

export const groupKey = (g: NodeGroup) =>
  `${g.kind === 'proxyless' ? 'proxyless' : `envoy/${g.cluster}`}${g.locality ? `@${g.locality.region}/${g.locality.zone}/${g.locality.subZone}` : ''}`;

/** A problem found while translating, to be written onto the resource's status. */
export interface TranslationIssue {
  kind: Kind;
  name: string;
  service?: string;
  severity: 'error' | 'warning';
  /** A machine-readable condition, e.g. NotRendered, NotEnforced, Panic. */
  reason?: string;
  field?: string;
  message: string;
  /** Node group the problem is specific to, when it is. */
  group?: string;
}

/** The registry resource an xDS resource comes from (where its errors are reported). */
export interface Owner {
  kind: 'Service' | 'Route' | 'Listener';
  name: string;
}

/**
 * The settings of one policy type as resolved onto one IR object, and where
 * they came from. Resolution happens once, when the IR is built.
 */
export interface ResolvedPolicy {
  /** The attached Policy resource the settings come from (the most specific one). */
  policy?: string;
  /** True when a route rule gave (some of) the settings inline. */
  inline?: true;
  settings: Record<string, unknown>;
}

/** Resolved policies by type. */
export type PolicyMap = Record<string, ResolvedPolicy>;

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
export interface IrCluster {
  name: string;
  service: string;
  subset?: string;
  protocol: ServiceSpec['protocol'];
  connectTimeoutMs: number;
  /** Policies attached to the service. */
  policies?: PolicyMap;
  /** Clients report this cluster's calls over LRS (a rollout judges it). */
  loadReporting?: true;
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
  /** Route-level policies: inline settings over the route's Policies over the backend service's. */
  policies?: PolicyMap;
}

/** One Route resource as a virtual host. */
export interface IrVirtualHost {
  name: string;
  domains: string[];
  routes: IrRoute[];
  /** Connection-manager policies attached to the Route (rendered for proxyless clients' API listeners, which honour none). */
  policies?: PolicyMap;
}

export interface IrListener {
  name: string;
  group: string;
  address: string;
  port: number;
  protocol: ListenerSpec['protocol'];
  virtualHosts: string[];
  /** Connection-manager policies: the Listener's own, else those of its routes. */
  policies?: PolicyMap;
}

/** The intermediate model: registry semantics resolved, no Envoy types yet. */
export interface IR {
  revision: number;
  clusters: IrCluster[];
  virtualHosts: IrVirtualHost[];
  listeners: IrListener[];
  /** Every problem, sorted by kind and name. */
  issues: TranslationIssue[];
  /** The part of `issues` that comes from each service's endpoints (replaced by the EDS fast path). */
  endpointIssues: Record<string, TranslationIssue[]>;
}

/** Whether a cluster has an endpoint clients will use (HEALTHY or UNKNOWN). */
export const usable = (c: IrCluster) => c.localities.some((l) => l.endpoints.some((e) => e.health === 'HEALTHY' || e.health === 'UNKNOWN'));

/** Cluster name for a service, or one of its subsets. */
export const clusterName = (service: string, subset?: string) => (subset ? `${service}/${subset}` : service);

export const byName = <T extends { name: string }>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
