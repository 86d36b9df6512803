import type { HeaderMatch } from './resources.js';

/** Where a rollout is. */
export const ROLLOUT_PHASES = ['Pending', 'Progressing', 'Paused', 'Promoting', 'Succeeded', 'RollingBack', 'Failed', 'Aborted'] as const;
export type RolloutPhase = (typeof ROLLOUT_PHASES)[number];

/** Phases in which a rollout owns its routes (manual weight changes get 409). */
export const ACTIVE_PHASES: readonly RolloutPhase[] = ['Pending', 'Progressing', 'Paused', 'Promoting', 'RollingBack'];

/** The outcome of one metric in one analysis. */
export interface MetricResult {
  name: string;
  /** The measured value; null when it could not be measured (then `message` says why). */
  value: number | null;
  /** The threshold, as written: "≥ 99", "≤ 500 ms", "drop ≤ 1 point". */
  threshold: string;
  result: 'Successful' | 'Failed' | 'Inconclusive' | 'Unavailable';
  message?: string;
}

/** One analysis run over one interval of live traffic. */
export interface AnalysisResult {
  at: string;
  result: 'Successful' | 'Failed' | 'Inconclusive';
  /** Requests the canary completed in the interval (from load reports). */
  canaryRequests: number;
  stableRequests: number;
  /** Percent of the interval's canary (stable) requests that succeeded; null with no requests. */
  canarySuccessRate?: number | null;
  stableSuccessRate?: number | null;
  metrics: MetricResult[];
  message: string;
}

/** One transition, kept in the rollout's history. */
export interface RolloutTransition {
  at: string;
  from: RolloutPhase | null;
  to: RolloutPhase;
  step: number;
  reason: string;
}

/** A rollout's state, kept in its `status.rollout` (so a restart or a new leader resumes it at the same step). */
export interface RolloutState {
  phase: RolloutPhase;
  /** Index of the step being run; steps.length once every step is done. */
  step: number;
  stepStartedAt: string;
  weights: { stable: number; canary: number };
  /** The header route in place, if any. */
  headerRoute: HeaderMatch | null;
  /** The routes this rollout manages (resolved when it starts). */
  routes: string[];
  /** When the routing last changed: analysis judges only traffic after it. */
  routedAt: string;
  consecutiveFailures: number;
  lastAnalysis?: AnalysisResult;
  /** The last webhook call, when one gates the rollout. */
  webhook?: { hook: string; at: string; ok: boolean; message: string };
  message: string;
  /** The version of the spec (without control) this state belongs to. */
  specDigest: string;
  /** The control id last handled. */
  handled?: string;
  /** Paused by hand (resume continues), as opposed to an indefinite pause step (resume advances). */
  manualPause?: boolean;
  /** The stable subset after a promotion (the canary). */
  promoted?: string;
  startedAt: string;
  finishedAt?: string;
  history: RolloutTransition[];
  /** Weight and success rates over time (the dashboard's charts): one point per weight change and per analysis, newest last, capped. */
  timeline?: TimelinePoint[];
}

/** One point of a rollout's timeline. */
export interface TimelinePoint {
  at: string;
  canaryWeight: number;
  /** Success rates of the analysis at this point; absent on a weight change. */
  canarySuccessRate?: number | null;
  stableSuccessRate?: number | null;
  result?: AnalysisResult['result'];
}
