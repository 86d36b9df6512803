import type { Backend, RolloutSpec, RouteRule, RouteSpec } from '../model/resources.js';
import type { RolloutState } from '../model/rollout.js';
import { headerRuleName } from './machine.js';

/**
 * The rules a managed route should have for a rollout state. Pure. Every rule
 * that sends to the stable subset gets the state's weights (the canary backend
 * is added when missing); the rollout's header rule (named rollout-<name>) is
 * first when the state has one, and gone otherwise. With `promote`, those rules
 * send everything to the canary, which becomes the stable subset.
 */
export function managedRules(route: RouteSpec, rollout: string, spec: RolloutSpec, state: Pick<RolloutState, 'weights' | 'headerRoute'>, promote: boolean): RouteRule[] {
  const mine = headerRuleName(rollout);
  const isStable = (b: Backend) => b.service === spec.service && b.subset === spec.stable;
  const isCanary = (b: Backend) => b.service === spec.service && b.subset === spec.canary;
  const rules = route.rules
    .filter((r) => r.name !== mine)
    .map((rule): RouteRule => {
      if (!rule.backends.some(isStable)) return rule;
      const others = rule.backends.filter((b) => !isStable(b) && !isCanary(b));
      if (promote) return { ...rule, backends: [...others, { service: spec.service, subset: spec.canary, weight: 100 }] };
      const hadCanary = rule.backends.some(isCanary);
      const backends = rule.backends
        .filter((b) => !isCanary(b) || hadCanary)
        .map((b) => (isStable(b) ? { ...b, weight: state.weights.stable } : isCanary(b) ? { ...b, weight: state.weights.canary } : b));
      if (!hadCanary && state.weights.canary > 0) backends.splice(backends.findIndex(isStable) + 1, 0, { service: spec.service, subset: spec.canary, weight: state.weights.canary });
      return { ...rule, backends };
    });
  if (state.headerRoute) rules.unshift({ name: mine, match: { headers: [state.headerRoute] }, backends: [{ service: spec.service, subset: spec.canary, weight: 100 }] });
  return rules;
}

/** Whether a route sends to the rollout's stable subset (what makes it managed when spec.routes is absent). */
export const sendsToStable = (route: RouteSpec, spec: RolloutSpec) =>
  route.rules.some((r) => r.backends.some((b) => b.service === spec.service && b.subset === spec.stable));
