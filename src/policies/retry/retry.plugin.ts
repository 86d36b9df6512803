import { duration } from '../../translate/envoy-types.js';
import type { Json, PolicyPlugin } from '../../translate/plugin.js';
import type { RetrySettings } from '../../model/resources.js';

function retryPolicy(r: RetrySettings): Json {
  return {
    retry_on: (r.on?.length ? r.on : ['connect-failure', 'refused-stream', 'unavailable']).join(','),
    num_retries: { value: r.attempts },
    ...(r.perTryTimeoutMs ? { per_try_timeout: duration(r.perTryTimeoutMs) } : {}),
    ...(r.backoff ? { retry_back_off: { base_interval: duration(r.backoff.baseMs), ...(r.backoff.maxMs ? { max_interval: duration(r.backoff.maxMs) } : {}) } } : {}),
  };
}

/** retry → the route action's `retry_policy`. A rule's inline `retry` is the same settings. */
export const retryPlugin: Pick<PolicyPlugin, 'route' | 'inline'> = {
  inline: (rule) => rule.retry as Record<string, unknown> | undefined,
  route(out, r: RetrySettings) {
    return { ...out, route: { ...out.route, retry_policy: retryPolicy(r) } };
  },
};
