/**
 * Envoy type names and small value helpers shared by translation and its
 * policy plugins. Constants only: the proto codec lives with the cache.
 */

/** Type URLs of the four resource types Switchyard serves. */
export const TYPE = {
  cluster: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  endpoint: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  listener: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  route: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
} as const;
export type TypeUrl = (typeof TYPE)[keyof typeof TYPE];

/** Push order: clusters and their endpoints before the listeners and routes that use them. */
export const PUSH_ORDER: TypeUrl[] = [TYPE.cluster, TYPE.endpoint, TYPE.listener, TYPE.route];

export const HCM_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
export const HTTP_PROTOCOL_OPTIONS = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
export const ROUTER_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

/** A google.protobuf.Duration from milliseconds. */
export const duration = (ms: number) => ({ seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 });

/** An ADS config source (what every cluster, route and listener here points at). */
export const ADS = { ads: {}, resource_api_version: 'V3' };
