import type { RouteRule } from '../model/resources.js';
import type { IrCluster, IrListener, IrRoute, IrVirtualHost, NodeGroup } from './types.js';

/** Envoy JSON (proto3 JSON with snake_case names), as plugins receive and return it. */
export type Json = Record<string, any>;

/** A problem a plugin reports about what it was asked to render. */
export interface PluginIssue {
  severity: 'error' | 'warning';
  /** Condition name, e.g. NotEnforced. */
  reason?: string;
  /** Field path inside the Policy (or the route rule, for inline settings). */
  field?: string;
  message: string;
}

/** What a plugin hook sees besides the object it decorates. */
export interface RenderContext<T> {
  /** The clients this rendering is for: plugins render only what that client kind honours. */
  group: NodeGroup;
  /** The IR object being rendered. */
  ir: T;
  /** Reports a problem onto the Policy the settings came from (or the Route, for inline settings). */
  report(issue: PluginIssue): void;
  /** A cluster of this snapshot by name (for settings that point at one, e.g. a trace collector). */
  cluster(name: string): IrCluster | undefined;
}

/**
 * What one policy type contributes to translation. Every hook is a pure
 * function of one resource (no DI, clock or randomness), so an incremental
 * rebuild can re-run just the resources that changed. Hooks run in `order`,
 * lowest first, each on the output of the one before.
 */
export interface PolicyPlugin {
  type: string;
  order: number;
  /**
   * Where a Policy of this type may be attached. Types attachable to routes
   * apply per route rule; attached to a service, they apply to the rules that
   * send only to that service (a route's own settings win). Types with a
   * `connectionManager` hook apply per connection manager: attached to a
   * Listener, to its own; attached to a Route, to those of the listeners
   * serving it (the Listener's own Policy wins).
   */
  attachTo: readonly ('Service' | 'Route' | 'Listener')[];
  /**
   * The settings a route rule gives inline for this type: a shorthand that
   * means the same as an attached Policy and wins over it. `attached` is what
   * the rule would get otherwise, for shorthands that set only part of it.
   */
  inline?(rule: RouteRule, attached?: Record<string, unknown>): Record<string, unknown> | undefined;
  /** The route rule field `inline` reads (where problems with inline settings are reported). */
  inlineField?: string;
  /** Decorates an Envoy Cluster. */
  cluster?(out: Json, settings: any, ctx: RenderContext<IrCluster>): Json;
  /** Decorates a cluster's ClusterLoadAssignment (EDS), e.g. priorities from the client's locality. */
  loadAssignment?(out: Json, settings: any, ctx: RenderContext<IrCluster>): Json;
  /**
   * Decorates an Envoy Route (its `route` action included). A type with a
   * route hook gets, on each rule, the settings attached to the rule's service
   * even when it attaches to services only (e.g. a hash policy for ring hash).
   */
  route?(out: Json, settings: any, ctx: RenderContext<IrRoute>): Json;
  /** Decorates an Envoy VirtualHost with the settings of the Route resource it comes from. */
  virtualHost?(out: Json, settings: any, ctx: RenderContext<IrVirtualHost>): Json;
  /**
   * Decorates an HttpConnectionManager: an Envoy listener's (ctx.ir is its
   * IrListener), or a proxyless client's API listener for one host of a Route
   * (ctx.ir is the IrVirtualHost), where a type gRPC clients do not honour
   * must render nothing and say so.
   */
  connectionManager?(out: Json, settings: any, ctx: RenderContext<IrListener | IrVirtualHost>): Json;
  /**
   * Clusters these settings send to besides the routes' (e.g. a trace
   * collector): translated and sent with the listeners that use the settings.
   */
  clusters?(settings: any): string[];
  /**
   * HTTP filters this type needs in a connection manager whose routes use it,
   * placed before the router in plugin order. Return [] when the group cannot take one.
   */
  httpFilters?(group: NodeGroup): Json[];
}

/** Whether a plugin renders anything at all (a type without hooks is stored only). */
export const renders = (p: PolicyPlugin) => !!(p.cluster || p.route || p.virtualHost || p.httpFilters || p.loadAssignment || p.connectionManager);
