import { duration } from '../../translate/envoy-types.js';
import type { Json, PolicyPlugin, RenderContext } from '../../translate/plugin.js';
import type { IrCluster, NodeGroup } from '../../translate/types.js';
import type { LoadBalancerPolicyDto } from './load-balancer.schema.js';

const ENVOY_POLICY: Record<string, string> = { roundRobin: 'ROUND_ROBIN', leastRequest: 'LEAST_REQUEST', random: 'RANDOM', ringHash: 'RING_HASH', maglev: 'MAGLEV' };

const ringConfig = (lb: LoadBalancerPolicyDto) => ({
  ...(lb.ringSize?.min !== undefined ? { minimum_ring_size: { value: lb.ringSize.min } } : {}),
  ...(lb.ringSize?.max !== undefined ? { maximum_ring_size: { value: lb.ringSize.max } } : {}),
  // grpc-js-xds refuses any other hash function.
  hash_function: 'XX_HASH',
});

const hashOn = (lb: LoadBalancerPolicyDto) => lb.hashOn ?? (lb.hashHeader ? { header: lb.hashHeader } : undefined);

/**
 * loadBalancer. Envoy: `lb_policy` with its per-algorithm config, slow start,
 * and the route's `hash_policy`. Proxyless gRPC clients only run round robin
 * and ring hash (XX_HASH): other algorithms fall back to round robin, and the
 * Policy says NotEnforced. Endpoint weights reach both (gRPC uses them with
 * ring hash only). With localityFailover, EDS priorities follow the client's
 * node.locality: its zone, then its region, then everything else.
 */
export const loadBalancerPlugin: Pick<PolicyPlugin, 'cluster' | 'route' | 'loadAssignment'> = {
  cluster(out, lb: LoadBalancerPolicyDto, ctx) {
    const envoy = ctx.group.kind === 'envoy';
    const algorithm = envoy || lb.algorithm === 'ringHash' ? lb.algorithm : 'roundRobin';
    if (algorithm !== lb.algorithm) ctx.report({ severity: 'warning', reason: 'NotEnforced', field: 'algorithm', message: `proxyless gRPC clients do not support ${lb.algorithm}: they use roundRobin` });
    if (!envoy && lb.slowStartWindowMs !== undefined) ctx.report({ severity: 'warning', reason: 'NotEnforced', field: 'slowStartWindowMs', message: 'proxyless gRPC clients have no slow start: new endpoints get their full share at once' });
    const slowStart = envoy && lb.slowStartWindowMs !== undefined ? { slow_start_config: { slow_start_window: duration(lb.slowStartWindowMs) } } : undefined;
    const next: Json = { ...out, lb_policy: ENVOY_POLICY[algorithm] };
    if (algorithm === 'roundRobin' && slowStart) next.round_robin_lb_config = slowStart;
    if (algorithm === 'leastRequest') next.least_request_lb_config = { ...(lb.choiceCount ? { choice_count: { value: lb.choiceCount } } : {}), ...(slowStart ?? {}) };
    if (algorithm === 'ringHash') next.ring_hash_lb_config = ringConfig(lb);
    if (algorithm === 'maglev' && lb.tableSize) next.maglev_lb_config = { table_size: { value: lb.tableSize } };
    return next;
  },

  route(out, lb: LoadBalancerPolicyDto, ctx) {
    const policy = hashPolicy(lb, ctx.group, (message) => ctx.report({ severity: 'warning', reason: 'NotEnforced', field: 'hashOn', message }));
    return policy ? { ...out, route: { ...out.route, hash_policy: [policy] } } : out;
  },

  loadAssignment(out, lb: LoadBalancerPolicyDto, ctx) {
    return lb.localityFailover ? withPriorities(out, ctx) : out;
  },
};

/** The route's hash policy for a hashing algorithm, as the group's clients understand it. */
function hashPolicy(lb: LoadBalancerPolicyDto, group: NodeGroup, notEnforced: (m: string) => void): Json | undefined {
  const on = hashOn(lb);
  if (group.kind === 'envoy') {
    if (lb.algorithm !== 'ringHash' && lb.algorithm !== 'maglev') return undefined;
    if (on?.header) return { header: { header_name: on.header } };
    if (on?.cookie) return { cookie: { name: on.cookie.name, ...(on.cookie.ttlMs !== undefined ? { ttl: duration(on.cookie.ttlMs) } : {}), ...(on.cookie.path ? { path: on.cookie.path } : {}) } };
    if (on?.sourceIp) return { connection_properties: { source_ip: true } };
    return undefined;
  }
  if (lb.algorithm !== 'ringHash') return undefined;
  if (on?.header) return { header: { header_name: on.header } };
  if (on) notEnforced(`proxyless gRPC clients cannot hash on ${on.cookie ? 'a cookie' : 'the source IP'}: they hash on their channel instead`);
  // Without a policy a gRPC client hashes randomly; its channel id keeps one client on one endpoint.
  return { filter_state: { key: 'io.grpc.channel_id' } };
}

/**
 * EDS priorities for one client locality: 0 for its zone, then its region,
 * then the rest, renumbered without gaps (gRPC refuses "priority 1 but not 0").
 * A client without a locality keeps everything at priority 0.
 */
function withPriorities(out: Json, ctx: RenderContext<IrCluster>): Json {
  const me = ctx.group.locality;
  if (!me) return out;
  const tier = (l: { region: string; zone: string }) => (l.region === me.region && l.zone === me.zone ? 0 : l.region === me.region ? 1 : 2);
  const tiers = [...new Set(ctx.ir.localities.map(tier))].sort();
  return {
    ...out,
    endpoints: (out.endpoints as Json[]).map((e, i) => {
      const p = tiers.indexOf(tier(ctx.ir.localities[i]));
      return p ? { ...e, priority: p } : e;
    }),
  };
}
