import { duration } from '../../translate/envoy-types.js';
import type { PolicyPlugin } from '../../translate/plugin.js';
import type { TimeoutPolicyDto } from './timeout.schema.js';

/**
 * timeout. requestMs → the route's `timeout` for Envoy and its
 * `max_stream_duration` for gRPC clients (a rule's inline `timeoutMs` means
 * requestMs); idleMs → the route's `idle_timeout` (Envoy only); connectMs →
 * the cluster's `connect_timeout`, when the policy is attached to a Service
 * (Envoy only: gRPC clients have their own connection backoff).
 */
export const timeoutPlugin: Pick<PolicyPlugin, 'route' | 'cluster' | 'inline' | 'inlineField'> = {
  inlineField: 'timeoutMs',
  // timeoutMs is requestMs: the attached policy's other settings still apply.
  inline: (rule, attached) => (rule.timeoutMs !== undefined ? { ...attached, requestMs: rule.timeoutMs } : undefined),

  route(out, t: TimeoutPolicyDto, ctx) {
    const action = { ...out.route };
    if (t.requestMs !== undefined) {
      if (ctx.group.kind === 'proxyless') action.max_stream_duration = { max_stream_duration: duration(t.requestMs) };
      else action.timeout = duration(t.requestMs);
    }
    if (t.idleMs !== undefined) {
      if (ctx.group.kind === 'envoy') action.idle_timeout = duration(t.idleMs);
      else ctx.report({ severity: 'warning', reason: 'NotEnforced', field: 'idleMs', message: 'proxyless gRPC clients have no per-route idle timeout' });
    }
    return { ...out, route: action };
  },

  cluster(out, t: TimeoutPolicyDto, ctx) {
    if (t.connectMs === undefined) return out;
    if (ctx.group.kind === 'proxyless') {
      ctx.report({ severity: 'warning', reason: 'NotEnforced', field: 'connectMs', message: 'proxyless gRPC clients ignore the cluster connect timeout' });
      return out;
    }
    return { ...out, connect_timeout: duration(t.connectMs) };
  },
};
