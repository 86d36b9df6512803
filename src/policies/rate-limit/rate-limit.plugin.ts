import { duration } from '../../translate/envoy-types.js';
import type { Json, PolicyPlugin } from '../../translate/plugin.js';
import type { RateLimitPolicyDto } from './rate-limit.schema.js';

export const LOCAL_RATELIMIT = 'envoy.filters.http.local_ratelimit';
const TYPE = 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit';
const UNIT_MS = { second: 1000, minute: 60_000, hour: 3_600_000 } as const;
const ALWAYS = { default_value: { numerator: 100, denominator: 'HUNDRED' } };

/**
 * rateLimit → Envoy's local rate limit: a token bucket per Envoy and route
 * (`requests` tokens every `unit`, holding at most `burst`), 429 when it is
 * empty, with x-ratelimit-* response headers. The filter sits in the
 * connection manager unconfigured; each route that is limited carries its
 * bucket in `typed_per_filter_config`. gRPC clients have no local rate limit
 * (the filter would be refused): they get nothing, and the Policy says so.
 */
export const rateLimitPlugin: Pick<PolicyPlugin, 'route' | 'httpFilters'> = {
  httpFilters: (group) => (group.kind === 'envoy' ? [{ name: LOCAL_RATELIMIT, typed_config: { '@type': TYPE, stat_prefix: 'http_local_rate_limiter' } }] : []),

  route(out, r: RateLimitPolicyDto, ctx) {
    if (ctx.group.kind === 'proxyless') {
      ctx.report({ severity: 'warning', reason: 'NotEnforced', message: 'proxyless gRPC clients have no local rate limit: limit them at the server, or through Envoy' });
      return out;
    }
    const bucket: Json = {
      '@type': TYPE,
      stat_prefix: 'http_local_rate_limiter',
      token_bucket: { max_tokens: r.burst ?? r.requests, tokens_per_fill: { value: r.requests }, fill_interval: duration(UNIT_MS[r.unit as keyof typeof UNIT_MS]) },
      filter_enabled: { ...ALWAYS, runtime_key: 'local_rate_limit_enabled' },
      filter_enforced: { ...ALWAYS, runtime_key: 'local_rate_limit_enforced' },
      enable_x_ratelimit_headers: 'DRAFT_VERSION_03',
    };
    return { ...out, typed_per_filter_config: { ...(out.typed_per_filter_config ?? {}), [LOCAL_RATELIMIT]: bucket } };
  },
};
