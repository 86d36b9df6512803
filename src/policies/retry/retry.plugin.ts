import { duration } from '../../translate/envoy-types.js';
import type { Json, PolicyPlugin, PluginIssue } from '../../translate/plugin.js';
import { GRPC_RETRY_ON, type RetryDto } from './retry.schema.js';

const ENVOY_DEFAULT_ON = ['connect-failure', 'refused-stream', 'unavailable'];
/** gRPC clients make at most 5 attempts. */
const GRPC_MAX_RETRIES = 4;
/** grpc-js-xds 1.14 mis-reads durations of a second or more: backoffs stay below one. */
const GRPC_MAX_BACKOFF_MS = 999;

function envoyRetry(r: RetryDto): Json {
  return {
    retry_on: (r.on?.length ? r.on : ENVOY_DEFAULT_ON).join(','),
    num_retries: { value: r.attempts },
    ...(r.perTryTimeoutMs ? { per_try_timeout: duration(r.perTryTimeoutMs) } : {}),
    ...(r.backoff ? { retry_back_off: { base_interval: duration(r.backoff.baseMs), ...(r.backoff.maxMs ? { max_interval: duration(r.backoff.maxMs) } : {}) } } : {}),
    ...(r.retriableStatusCodes?.length ? { retriable_status_codes: r.retriableStatusCodes } : {}),
    ...(r.hostReselection
      ? {
          retry_host_predicate: [{ name: 'envoy.retry_host_predicates.previous_hosts', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate' } }],
          host_selection_retry_max_attempts: 3,
        }
      : {}),
  };
}

/** What a gRPC client can take of the settings, or undefined when it can take nothing (then no retry policy is sent). */
function grpcRetry(r: RetryDto, report: (i: PluginIssue) => void): Json | undefined {
  const ignored = (['perTryTimeoutMs', 'retriableStatusCodes', 'hostReselection'] as const).filter((k) => r[k] !== undefined);
  if (ignored.length) report({ severity: 'warning', reason: 'NotEnforced', message: `proxyless gRPC clients ignore ${ignored.join(', ')}` });
  if (r.attempts < 1) return undefined;
  const on = (r.on?.length ? r.on : ['unavailable']).filter((c) => GRPC_RETRY_ON.includes(c));
  const dropped = (r.on ?? []).filter((c) => !GRPC_RETRY_ON.includes(c));
  if (!on.length) {
    report({ severity: 'warning', reason: 'NotEnforced', field: 'on', message: `proxyless gRPC clients retry only on ${GRPC_RETRY_ON.join(', ')}; none is set, so they do not retry` });
    return undefined;
  }
  if (dropped.length) report({ severity: 'warning', reason: 'NotEnforced', field: 'on', message: `proxyless gRPC clients do not retry on ${dropped.join(', ')}` });
  if (r.attempts > GRPC_MAX_RETRIES) report({ severity: 'warning', reason: 'NotEnforced', field: 'attempts', message: `proxyless gRPC clients make at most ${GRPC_MAX_RETRIES} retries (5 attempts)` });
  let backoff: Json | undefined;
  if (r.backoff) {
    const base = Math.min(r.backoff.baseMs, GRPC_MAX_BACKOFF_MS);
    const max = Math.max(base, Math.min(r.backoff.maxMs ?? base * 10, GRPC_MAX_BACKOFF_MS));
    if (base !== r.backoff.baseMs || (r.backoff.maxMs !== undefined && max !== r.backoff.maxMs))
      report({ severity: 'warning', reason: 'Clamped', field: 'backoff', message: `proxyless gRPC clients get backoff ${base}–${max} ms: grpc-js-xds mis-reads durations of a second or more` });
    backoff = { base_interval: duration(base), max_interval: duration(max) };
  }
  // retry_on is split on "," without trimming: no spaces.
  return { retry_on: on.join(','), num_retries: { value: Math.min(r.attempts, GRPC_MAX_RETRIES) }, ...(backoff ? { retry_back_off: backoff } : {}) };
}

/**
 * retry → the route action's `retry_policy`. A rule's inline `retry` is the
 * same settings. Envoy gets everything; gRPC clients get the gRPC codes they
 * understand, at most 4 retries and sub-second backoff, and nothing when
 * attempts is 0 (they refuse num_retries 0).
 */
export const retryPlugin: Pick<PolicyPlugin, 'route' | 'inline' | 'inlineField'> = {
  inlineField: 'retry',
  inline: (rule) => rule.retry as Record<string, unknown> | undefined,
  route(out, r: RetryDto, ctx) {
    const policy = ctx.group.kind === 'envoy' ? envoyRetry(r) : grpcRetry(r, ctx.report);
    return policy ? { ...out, route: { ...out.route, retry_policy: policy } } : out;
  },
};
