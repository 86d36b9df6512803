import { Int } from '../../registry/dto/common.js';
import type { PolicyKind } from '../policy-kind.js';

/** `spec.outlierDetection`: passive ejection of failing endpoints. */
export class OutlierDetectionPolicyDto {
  @Int(1, 1000, { optional: true, example: 5 }) consecutive5xx?: number;
  @Int(1, 1000, { optional: true }) consecutiveGatewayFailure?: number;
  @Int(1, 3600000, { optional: true, example: 10000 }) intervalMs?: number;
  @Int(1, 3600000, { optional: true, example: 30000 }) baseEjectionTimeMs?: number;
  @Int(0, 100, { optional: true, example: 10 }) maxEjectionPercent?: number;
}

export const outlierDetectionPolicy: PolicyKind = {
  type: 'outlierDetection',
  schema: OutlierDetectionPolicyDto,
  attachTo: ['Service'],
  order: 50,
};
