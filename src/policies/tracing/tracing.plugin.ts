import { duration } from '../../translate/envoy-types.js';
import type { Json, PolicyPlugin } from '../../translate/plugin.js';
import { clusterName, type IrListener } from '../../translate/types.js';
import type { TracingPolicyDto } from './tracing.schema.js';

export const OPENTELEMETRY = 'envoy.tracers.opentelemetry';
const OTEL_TYPE = 'type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig';

const percent = (v: number | undefined) => (v === undefined ? undefined : { value: v });
const collectorOf = (t: TracingPolicyDto) => clusterName(t.collector.service, t.collector.subset);

/**
 * tracing → the connection manager's `tracing`: spans exported over OTLP/gRPC
 * by Envoy's OpenTelemetry tracer to the collector Service's cluster (sent to
 * the same Envoy, since the tracer's gRPC client needs it to exist), sampled
 * at random by samplingPercent. Only Envoy traces: proxyless gRPC clients get
 * nothing (their API listeners stay as they are) and the Policy says so. A
 * collector that is not in the snapshot, or does not speak gRPC, leaves the
 * listener untraced with an error on the Policy rather than a config Envoy refuses.
 */
export const tracingPlugin: Pick<PolicyPlugin, 'connectionManager' | 'clusters'> = {
  clusters: (t: TracingPolicyDto) => [collectorOf(t)],

  connectionManager(out, t: TracingPolicyDto, ctx) {
    if (ctx.group.kind === 'proxyless') {
      ctx.report({ severity: 'warning', reason: 'NotEnforced', message: `proxyless gRPC clients do not trace: their calls on Route ${ctx.ir.name} are not traced (trace in the application, or send them through Envoy)` });
      return out;
    }
    const listener = ctx.ir as IrListener;
    const name = collectorOf(t);
    const what = t.collector.subset ? `subset ${t.collector.subset} of Service ${t.collector.service}` : `Service ${t.collector.service}`;
    const cluster = ctx.cluster(name);
    if (!cluster) {
      ctx.report({ severity: 'error', reason: 'InvalidReference', field: 'collector', message: `collector ${what} does not exist: Listener ${listener.name} is not traced` });
      return out;
    }
    if (cluster.protocol !== 'grpc') {
      ctx.report({ severity: 'error', reason: 'InvalidReference', field: 'collector.service', message: `collector Service ${t.collector.service} has protocol ${cluster.protocol}; OTLP export is gRPC, so it must be grpc: Listener ${listener.name} is not traced` });
      return out;
    }
    const tracing: Json = {
      random_sampling: { value: t.samplingPercent ?? 100 },
      ...(t.clientSamplingPercent !== undefined ? { client_sampling: percent(t.clientSamplingPercent) } : {}),
      ...(t.overallSamplingPercent !== undefined ? { overall_sampling: percent(t.overallSamplingPercent) } : {}),
      ...(t.maxPathTagLength !== undefined ? { max_path_tag_length: { value: t.maxPathTagLength } } : {}),
      ...(t.tags?.length
        ? {
            custom_tags: t.tags.map((tag) =>
              tag.header !== undefined
                ? { tag: tag.tag, request_header: { name: tag.header, ...(tag.default !== undefined ? { default_value: tag.default } : {}) } }
                : { tag: tag.tag, literal: { value: tag.literal } },
            ),
          }
        : {}),
      provider: {
        name: OPENTELEMETRY,
        typed_config: {
          '@type': OTEL_TYPE,
          grpc_service: { envoy_grpc: { cluster_name: name }, ...(t.collector.timeoutMs !== undefined ? { timeout: duration(t.collector.timeoutMs) } : {}) },
          // The listener group is the Envoy's node.cluster: the usual name of the service it fronts.
          service_name: t.serviceName ?? listener.group,
        },
      },
      ...(t.spawnUpstreamSpan !== undefined ? { spawn_upstream_span: { value: t.spawnUpstreamSpan } } : {}),
    };
    return { ...out, tracing };
  },
};
