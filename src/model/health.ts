/** What active checks concluded about one endpoint. */
export type CheckedState = 'unknown' | 'healthy' | 'unhealthy';

/** A change of checked state, with why. */
export interface Transition {
  at: string;
  from: CheckedState;
  to: CheckedState;
  reason: string;
}

/** The outcome of one probe. */
export interface ProbeResult {
  ok: boolean;
  /** What was seen, for status and events ("HTTP 503", "timeout after 500 ms"). */
  detail: string;
  ms: number;
}

/** What the replica that probes an endpoint publishes on each transition (shared by every replica). */
export interface PublishedHealth {
  state: CheckedState;
  transition?: Transition;
  lastProbe?: ProbeResult & { at: string };
  by: string;
}

/** An endpoint's health as sent to proxies. */
export type EffectiveHealth = 'unknown' | 'healthy' | 'unhealthy' | 'draining';
