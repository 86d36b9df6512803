import type { ProbeResult } from './probes.js';

/** What active checks concluded about one endpoint. */
export type CheckedState = 'unknown' | 'healthy' | 'unhealthy';

export interface Transition {
  at: string;
  from: CheckedState;
  to: CheckedState;
  reason: string;
}

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

export type EffectiveHealth = 'unknown' | 'healthy' | 'unhealthy' | 'draining';

/**
 * An endpoint's health as sent to proxies. The administrative health (the
 * endpoint's spec.health) wins when it is draining or unhealthy; otherwise the
 * active-check result decides; heartbeat endpoints that stop renewing are
 * removed altogether, so either mechanism failing takes an endpoint out.
 *
 * Panic guard (like Envoy's healthy_panic_threshold): when more than
 * `panicShare` of a service's checked endpoints fail at once, failing checks are
 * ignored for that service, because withdrawing most of a pool usually means
 * the checker or its network is wrong, not every instance.
 */
export function effectiveHealth(
  endpoints: { name: string; admin: EffectiveHealth }[],
  checked: Map<string, CheckedState>,
  panicShare: number,
): { health: Map<string, EffectiveHealth>; panic: boolean; failing: number; total: number } {
  const underCheck = endpoints.filter((e) => checked.has(e.name));
  const failing = underCheck.filter((e) => checked.get(e.name) === 'unhealthy').length;
  const total = underCheck.length;
  const panic = total > 0 && failing / total > panicShare;
  const health = new Map<string, EffectiveHealth>();
  for (const e of endpoints) {
    const c = checked.get(e.name);
    if (e.admin === 'draining' || e.admin === 'unhealthy') health.set(e.name, e.admin);
    else if (c === 'unhealthy') health.set(e.name, panic ? e.admin : 'unhealthy');
    else if (c === 'healthy') health.set(e.name, 'healthy');
    else health.set(e.name, e.admin);
  }
  return { health, panic, failing, total };
}
