import { duration } from '../../translate/envoy-types.js';
import type { Json, PolicyPlugin } from '../../translate/plugin.js';
import { type FaultInjectionPolicyDto, GRPC_CODES } from './fault-injection.schema.js';

export const FAULT = 'envoy.filters.http.fault';
const TYPE = 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault';

/** Percent with up to 4 decimals as an Envoy FractionalPercent (per million). */
const fraction = (percent: number) => ({ numerator: Math.round(percent * 10000), denominator: 'MILLION' });

/** gRPC code number of a status name (OK is 0; the list starts at CANCELLED = 1). */
const grpcCode = (name: string) => GRPC_CODES.indexOf(name as (typeof GRPC_CODES)[number]) + 1;

/**
 * faultInjection → the HTTP fault filter, which Envoy and gRPC clients both
 * run. The connection manager holds the filter with no fault; each route that
 * injects carries its delay and abort in `typed_per_filter_config` (the bare
 * HTTPFault: gRPC refuses it wrapped in FilterConfig). Detaching the policy
 * drops the route's config, and calls are clean again.
 */
export const faultInjectionPlugin: Pick<PolicyPlugin, 'route' | 'httpFilters'> = {
  httpFilters: () => [{ name: FAULT, typed_config: { '@type': TYPE } }],

  route(out, f: FaultInjectionPolicyDto) {
    const config: Json = { '@type': TYPE };
    if (f.delay)
      config.delay = { ...(f.delay.fixedMs !== undefined ? { fixed_delay: duration(f.delay.fixedMs) } : { header_delay: {} }), percentage: fraction(f.delay.percent) };
    if (f.abort)
      config.abort = {
        ...(f.abort.httpStatus !== undefined ? { http_status: f.abort.httpStatus } : f.abort.grpcStatus !== undefined ? { grpc_status: grpcCode(f.abort.grpcStatus) } : { header_abort: {} }),
        percentage: fraction(f.abort.percent),
      };
    if (f.maxActiveFaults !== undefined) config.max_active_faults = { value: f.maxActiveFaults };
    return { ...out, typed_per_filter_config: { ...(out.typed_per_filter_config ?? {}), [FAULT]: config } };
  },
};
