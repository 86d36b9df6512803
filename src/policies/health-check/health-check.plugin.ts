import { duration } from '../../translate/envoy-types.js';
import type { Json, PolicyPlugin } from '../../translate/plugin.js';
import type { HealthCheckPolicyDto } from './health-check.schema.js';

/** Envoy's HealthCheck for the policy's settings. */
function envoyHealthCheck(h: HealthCheckPolicyDto): Json {
  const hex = (t: string) => ({ text: Buffer.from(t, 'utf8').toString('hex') });
  return {
    timeout: duration(h.timeoutMs),
    interval: duration(h.intervalMs),
    ...(h.jitterMs ? { interval_jitter: duration(h.jitterMs) } : {}),
    // Probe at the same pace with or without traffic, like the control plane does.
    no_traffic_interval: duration(h.intervalMs),
    healthy_threshold: { value: h.healthyThreshold ?? 2 },
    unhealthy_threshold: { value: h.unhealthyThreshold ?? 2 },
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

/**
 * healthCheck → Envoy `health_checks` when Envoy is to run the probe
 * (runBy envoy or both). Proxyless gRPC clients cannot run active checks: the
 * control plane's own probes (runBy controlPlane or both) reach them through EDS.
 */
export const healthCheckPlugin: Pick<PolicyPlugin, 'cluster'> = {
  cluster(out, h: HealthCheckPolicyDto, ctx) {
    const runBy = h.runBy ?? 'controlPlane';
    if (runBy === 'controlPlane') return out;
    if (ctx.group.kind === 'envoy') return { ...out, health_checks: [envoyHealthCheck(h)] };
    ctx.report({
      severity: runBy === 'envoy' ? 'error' : 'warning',
      field: 'runBy',
      message: `proxyless gRPC clients do not run active health checks, so runBy ${runBy} is not sent to them${runBy === 'both' ? ' (the control plane still probes)' : '; use controlPlane or both'}`,
    });
    return out;
  },
};

/** The settings of the healthCheck policy attached to a service, when the control plane is to probe it (runBy controlPlane or both). */
export function controlPlaneCheck(attached: readonly string[] | undefined, policy: (name: string) => { spec: { type: string; [k: string]: unknown } } | undefined): HealthCheckPolicyDto | undefined {
  for (const name of attached ?? []) {
    const p = policy(name);
    if (p?.spec.type !== 'healthCheck') continue;
    const h = p.spec.healthCheck as HealthCheckPolicyDto;
    return (h.runBy ?? 'controlPlane') === 'envoy' ? undefined : h;
  }
  return undefined;
}
