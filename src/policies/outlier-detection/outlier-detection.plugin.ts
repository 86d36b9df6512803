import { duration } from '../../translate/envoy-types.js';
import type { Json, PolicyPlugin } from '../../translate/plugin.js';
import type { OutlierDetectionPolicyDto } from './outlier-detection.schema.js';

const DEFAULTS = { intervalMs: 10_000, baseEjectionTimeMs: 30_000, maxEjectionTimeMs: 300_000, maxEjectionPercent: 10 };
const SR = { minimumHosts: 5, requestVolume: 100, stdevFactor: 1.9, enforcingPercent: 100 };
const FP = { threshold: 85, minimumHosts: 5, requestVolume: 50, enforcingPercent: 100 };
const v = (value: number) => ({ value });

/**
 * outlierDetection → the cluster's `outlier_detection`. Envoy gets every
 * setting as given (its own defaults for the rest). gRPC clients run success
 * rate and failure percentage only, and read an unset sub-field as "never
 * eject": they get every field of the algorithms in use filled in, and the
 * algorithms not in use switched off. consecutive5xx and
 * consecutiveGatewayFailure are Envoy only (NotEnforced for gRPC).
 */
export const outlierDetectionPlugin: Pick<PolicyPlugin, 'cluster'> = {
  cluster(out, o: OutlierDetectionPolicyDto, ctx) {
    const common: Json = {
      ...(o.consecutive5xx !== undefined ? { consecutive_5xx: v(o.consecutive5xx) } : {}),
      ...(o.intervalMs !== undefined ? { interval: duration(o.intervalMs) } : {}),
      ...(o.baseEjectionTimeMs !== undefined ? { base_ejection_time: duration(o.baseEjectionTimeMs) } : {}),
      ...(o.maxEjectionPercent !== undefined ? { max_ejection_percent: v(o.maxEjectionPercent) } : {}),
    };
    if (ctx.group.kind === 'envoy') {
      const sr = o.successRate;
      const fp = o.failurePercentage;
      return {
        ...out,
        outlier_detection: {
          ...common,
          ...(o.consecutiveGatewayFailure !== undefined ? { consecutive_gateway_failure: v(o.consecutiveGatewayFailure), enforcing_consecutive_gateway_failure: v(100) } : {}),
          ...(sr?.enforcingPercent !== undefined ? { enforcing_success_rate: v(sr.enforcingPercent) } : {}),
          ...(sr?.minimumHosts !== undefined ? { success_rate_minimum_hosts: v(sr.minimumHosts) } : {}),
          ...(sr?.requestVolume !== undefined ? { success_rate_request_volume: v(sr.requestVolume) } : {}),
          ...(sr?.stdevFactor !== undefined ? { success_rate_stdev_factor: v(Math.round(sr.stdevFactor * 1000)) } : {}),
          ...(fp ? { enforcing_failure_percentage: v(fp.enforcingPercent ?? FP.enforcingPercent) } : {}),
          ...(fp?.threshold !== undefined ? { failure_percentage_threshold: v(fp.threshold) } : {}),
          ...(fp?.minimumHosts !== undefined ? { failure_percentage_minimum_hosts: v(fp.minimumHosts) } : {}),
          ...(fp?.requestVolume !== undefined ? { failure_percentage_request_volume: v(fp.requestVolume) } : {}),
          ...(o.maxEjectionTimeMs !== undefined ? { max_ejection_time: duration(o.maxEjectionTimeMs) } : {}),
        },
      };
    }
    const ignored = (['consecutive5xx', 'consecutiveGatewayFailure'] as const).filter((k) => o[k] !== undefined);
    if (ignored.length) ctx.report({ severity: 'warning', reason: 'NotEnforced', message: `proxyless gRPC clients do not count consecutive failures: ${ignored.join(', ')} ${ignored.length > 1 ? 'are' : 'is'} not sent to them` });
    if (!o.successRate && !o.failurePercentage)
      ctx.report({ severity: 'warning', reason: 'NotEnforced', message: 'proxyless gRPC clients eject only by successRate or failurePercentage: set one of them, or nothing is ejected' });
    const sr = o.successRate && { ...SR, ...o.successRate };
    const fp = o.failurePercentage && { ...FP, ...o.failurePercentage };
    return {
      ...out,
      outlier_detection: {
        interval: duration(o.intervalMs ?? DEFAULTS.intervalMs),
        base_ejection_time: duration(o.baseEjectionTimeMs ?? DEFAULTS.baseEjectionTimeMs),
        max_ejection_percent: v(o.maxEjectionPercent ?? DEFAULTS.maxEjectionPercent),
        enforcing_success_rate: v(sr ? sr.enforcingPercent : 0),
        ...(sr ? { success_rate_minimum_hosts: v(sr.minimumHosts), success_rate_request_volume: v(sr.requestVolume), success_rate_stdev_factor: v(Math.round(sr.stdevFactor * 1000)) } : {}),
        ...(fp ? { failure_percentage_threshold: v(fp.threshold), failure_percentage_minimum_hosts: v(fp.minimumHosts), failure_percentage_request_volume: v(fp.requestVolume) } : {}),
        enforcing_failure_percentage: v(fp ? fp.enforcingPercent : 0),
        max_ejection_time: duration(o.maxEjectionTimeMs ?? Math.max(DEFAULTS.maxEjectionTimeMs, o.baseEjectionTimeMs ?? 0)),
      },
    };
  },
};
