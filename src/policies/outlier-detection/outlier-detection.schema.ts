import { Int, Nested, Num } from '../../common/dto.js';
import type { FieldViolation } from '../../common/errors.js';
import type { PolicyKind } from '../policy-kind.js';

/** Eject endpoints whose success rate is far below the others' (Envoy and gRPC). */
export class SuccessRateDto {
  @Int(1, 1000, { optional: true, description: 'endpoints with enough requests needed for the check (default 5)' }) minimumHosts?: number;
  @Int(1, 1000000, { optional: true, description: 'requests per interval an endpoint needs to be judged (default 100)' }) requestVolume?: number;
  @Num(0.001, 100, { optional: true, description: 'eject below mean − stdevFactor × stdev (default 1.9)' }) stdevFactor?: number;
  @Int(0, 100, { optional: true, description: 'percent of detected outliers actually ejected (default 100)' }) enforcingPercent?: number;
}

/** Eject endpoints whose failure percentage is over a threshold (Envoy and gRPC). */
export class FailurePercentageDto {
  @Int(0, 100, { optional: true, description: 'percent of failed requests that ejects (default 85)' }) threshold?: number;
  @Int(1, 1000, { optional: true, description: 'endpoints with enough requests needed for the check (default 5)' }) minimumHosts?: number;
  @Int(1, 1000000, { optional: true, description: 'requests per interval an endpoint needs to be judged (default 50)' }) requestVolume?: number;
  @Int(0, 100, { optional: true, description: 'percent of detected outliers actually ejected (default 100)' }) enforcingPercent?: number;
}

/**
 * `spec.outlierDetection`: passive ejection of failing endpoints, and their
 * return after the ejection time (the half-open recovery of a circuit breaker).
 */
export class OutlierDetectionPolicyDto {
  @Int(1, 1000, { optional: true, example: 5, description: 'consecutive 5xx that eject (Envoy only)' }) consecutive5xx?: number;
  @Int(1, 1000, { optional: true, description: 'consecutive 502/503/504 that eject (Envoy only)' }) consecutiveGatewayFailure?: number;
  @Int(1, 3600000, { optional: true, example: 10000, description: 'how often endpoints are judged (default 10 s)' }) intervalMs?: number;
  @Int(1, 3600000, { optional: true, example: 30000, description: 'first ejection lasts this long, times the ejection count (default 30 s)' }) baseEjectionTimeMs?: number;
  @Int(1, 86400000, { optional: true, description: 'longest ejection (default 300 s)' }) maxEjectionTimeMs?: number;
  @Int(0, 100, { optional: true, example: 10, description: 'most of the service ejected at once (default 10)' }) maxEjectionPercent?: number;
  @Nested(SuccessRateDto) successRate?: SuccessRateDto;
  @Nested(FailurePercentageDto) failurePercentage?: FailurePercentageDto;
}

function check(o: OutlierDetectionPolicyDto, path: string): FieldViolation[] {
  const out: FieldViolation[] = [];
  if (o.maxEjectionTimeMs !== undefined && o.baseEjectionTimeMs !== undefined && o.maxEjectionTimeMs < o.baseEjectionTimeMs)
    out.push({ field: `${path}.maxEjectionTimeMs`, message: `must be >= baseEjectionTimeMs (${o.baseEjectionTimeMs})` });
  return out;
}

/** The API side of outlierDetection: the `spec.outlierDetection` schema and its cross-field rules. */
export const outlierDetectionSchema: Pick<PolicyKind, 'schema' | 'check'> = { schema: OutlierDetectionPolicyDto, check };
