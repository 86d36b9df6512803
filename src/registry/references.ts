import type { Kind, ListenerSpec, ResourceInput, RolloutSpec, RouteSpec, ServiceSpec } from '../model/resources.js';

/** A reference from one resource's field to another resource. */
export interface Reference {
  /** The field holding the referenced name. */
  field: string;
  kind: Kind;
  name: string;
  /** A subset of the referenced service that must exist, and the field naming it. */
  subset?: string;
  subsetField?: string;
}

/** Every reference `r` makes, with the field path it is made from. */
export function outgoingRefs(r: ResourceInput, path = 'spec'): Reference[] {
  const out: Reference[] = [];
  switch (r.kind) {
    case 'Service': {
      const s = r.spec as unknown as ServiceSpec;
      s.policies?.forEach((p, i) => out.push({ field: `${path}.policies[${i}]`, kind: 'Policy', name: p }));
      break;
    }
    case 'Route': {
      const s = r.spec as unknown as RouteSpec;
      s.rules.forEach((rule, i) =>
        rule.backends.forEach((b, j) => {
          const at = `${path}.rules[${i}].backends[${j}]`;
          out.push({ field: `${at}.service`, kind: 'Service', name: b.service, ...(b.subset !== undefined ? { subset: b.subset, subsetField: `${at}.subset` } : {}) });
        }),
      );
      s.policies?.forEach((p, i) => out.push({ field: `${path}.policies[${i}]`, kind: 'Policy', name: p }));
      break;
    }
    case 'Listener': {
      const s = r.spec as unknown as ListenerSpec;
      s.routes.forEach((n, i) => out.push({ field: `${path}.routes[${i}]`, kind: 'Route', name: n }));
      s.policies?.forEach((p, i) => out.push({ field: `${path}.policies[${i}]`, kind: 'Policy', name: p }));
      break;
    }
    case 'Rollout': {
      const s = r.spec as unknown as RolloutSpec;
      out.push({ field: `${path}.service`, kind: 'Service', name: s.service, subset: s.stable, subsetField: `${path}.stable` });
      out.push({ field: `${path}.service`, kind: 'Service', name: s.service, subset: s.canary, subsetField: `${path}.canary` });
      s.routes?.forEach((n, i) => out.push({ field: `${path}.routes[${i}]`, kind: 'Route', name: n }));
      break;
    }
  }
  return out;
}

/** JSON fragments (for jsonb containment) that find referrers of a resource (of one of its subsets, with `subset`). */
export function referrerQueries(kind: Kind, name: string, subset?: string): { kind: Kind; fragment: object }[] {
  switch (kind) {
    case 'Service':
      return [
        { kind: 'Route', fragment: { rules: [{ backends: [{ service: name, ...(subset ? { subset } : {}) }] }] } },
        ...(subset
          ? [
              { kind: 'Rollout' as const, fragment: { service: name, stable: subset } },
              { kind: 'Rollout' as const, fragment: { service: name, canary: subset } },
            ]
          : [{ kind: 'Rollout' as const, fragment: { service: name } }]),
      ];
    case 'Route':
      return [
        { kind: 'Listener', fragment: { routes: [name] } },
        { kind: 'Rollout', fragment: { routes: [name] } },
      ];
    case 'Policy':
      return [
        { kind: 'Service', fragment: { policies: [name] } },
        { kind: 'Route', fragment: { policies: [name] } },
        { kind: 'Listener', fragment: { policies: [name] } },
      ];
    default:
      return [];
  }
}

/**
 * The spec of `referrer` with every reference to `target` removed, or null when
 * nothing meaningful is left (a route with no rules, a rollout of a deleted
 * service or with no route left), meaning delete it too.
 */
export function withoutRefs(referrer: ResourceInput, target: { kind: Kind; name: string }): Record<string, unknown> | null {
  const spec = structuredClone(referrer.spec) as any;
  if (target.kind === 'Policy') {
    spec.policies = (spec.policies ?? []).filter((p: string) => p !== target.name);
    return spec;
  }
  if (referrer.kind === 'Listener' && target.kind === 'Route') {
    spec.routes = spec.routes.filter((r: string) => r !== target.name);
    return spec;
  }
  if (referrer.kind === 'Rollout') {
    if (target.kind === 'Service') return null;
    spec.routes = (spec.routes ?? []).filter((r: string) => r !== target.name);
    // No route left would mean "every route of the service": a different rollout. Delete it instead.
    return spec.routes.length ? spec : null;
  }
  if (referrer.kind === 'Route' && target.kind === 'Service') {
    spec.rules = (spec as RouteSpec).rules
      .map((rule) => ({ ...rule, backends: rule.backends.filter((b) => b.service !== target.name) }))
      .filter((rule) => rule.backends.length > 0 && rule.backends.some((b) => b.weight > 0));
    return spec.rules.length ? spec : null;
  }
  return spec;
}
