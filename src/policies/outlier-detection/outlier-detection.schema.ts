import { Int } from '../../common/dto.js';
import type { PolicyKind } from '../policy-kind.js';

/** `spec.outlierDetection`: passive ejection of failing endpoints. */
export class OutlierDetectionPolicyDto {
  @Int(1, 1000, { optional: true, example: 5 }) consecutive5xx?: number;
  @Int(1, 1000, { optional: true }) consecutiveGatewayFailure?: number;
  @Int(1, 3600000, { optional: true, example: 10000 }) intervalMs?: number;
  @Int(1, 3600000, { optional: true, example: 30000 }) baseEjectionTimeMs?: number;
  @Int(0, 100, { optional: true, example: 10 }) maxEjectionPercent?: number;
}

/** The API side of outlierDetection: the `spec.outlierDetection` schema and its cross-field rules. */
export const outlierDetectionSchema: Pick<PolicyKind, 'schema' | 'check'> = {
  schema: OutlierDetectionPolicyDto
};
