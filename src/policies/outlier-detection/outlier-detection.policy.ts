import type { PolicyKind } from '../policy-kind.js';
import { outlierDetectionPlugin } from './outlier-detection.plugin.js';
import { outlierDetectionSchema } from './outlier-detection.schema.js';

/** The outlierDetection policy type. */
export const outlierDetectionPolicy: PolicyKind = {
  type: 'outlierDetection',
  order: 50,
  attachTo: ['Service'],
  ...outlierDetectionSchema,
  ...outlierDetectionPlugin,
};
