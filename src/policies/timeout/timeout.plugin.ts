import { duration } from '../../translate/envoy-types.js';
import type { PolicyPlugin } from '../../translate/plugin.js';
import type { TimeoutPolicyDto } from './timeout.schema.js';

/**
 * timeout → the route's request timeout. A rule's inline `timeoutMs` means
 * `requestMs`. gRPC clients read max_stream_duration; Envoy reads timeout.
 */
export const timeoutPlugin: Pick<PolicyPlugin, 'route' | 'inline'> = {
  inline: (rule) => (rule.timeoutMs !== undefined ? { requestMs: rule.timeoutMs } : undefined),
  route(out, t: TimeoutPolicyDto, ctx) {
    if (t.requestMs === undefined) return out;
    const action = ctx.group.kind === 'proxyless' ? { max_stream_duration: { max_stream_duration: duration(t.requestMs) } } : { timeout: duration(t.requestMs) };
    return { ...out, route: { ...out.route, ...action } };
  },
};
