import type { CheckedState, ProbeResult, Transition } from '../model/health.js';

/** Per-endpoint check state kept by the replica that probes it. */
export interface CheckState {
  state: CheckedState;
  successes: number;
  failures: number;
  lastProbe?: ProbeResult & { at: string };
  lastTransition?: Transition;
}

export interface Thresholds {
  healthyThreshold: number;
  unhealthyThreshold: number;
}

/**
 * Applies one probe result. Becomes unhealthy after `unhealthyThreshold`
 * consecutive failures and healthy after `healthyThreshold` consecutive passes
 * (from `unknown`, one pass is enough: that is "wait for the first pass").
 * Pure: `now` is passed in.
 */
export function applyResult(s: CheckState, r: ProbeResult, t: Thresholds, now: string): { next: CheckState; transition?: Transition } {
  const next: CheckState = {
    ...s,
    successes: r.ok ? s.successes + 1 : 0,
    failures: r.ok ? 0 : s.failures + 1,
    lastProbe: { ...r, at: now },
  };
  let to: CheckedState | undefined;
  if (r.ok && s.state !== 'healthy' && (s.state === 'unknown' || next.successes >= t.healthyThreshold)) to = 'healthy';
  if (!r.ok && s.state !== 'unhealthy' && next.failures >= t.unhealthyThreshold) to = 'unhealthy';
  if (!to) return { next };
  const reason = r.ok ? `${next.successes} consecutive passing check(s) (${r.detail})` : `${next.failures} consecutive failed check(s): ${r.detail}`;
  const transition: Transition = { at: now, from: s.state, to, reason };
  return { next: { ...next, state: to, lastTransition: transition }, transition };
}
