import type { Kind, ListenerSpec, ResourceInput, RouteSpec, ServiceSpec } from '../model/resources.js';

/** A reference from one resource's field to another resource. */
export interface Reference {
  field: string;
  kind: Kind;
  name: string;
  /** For route backends: the subset of the referenced service. */
  subset?: string;
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
        rule.backends.forEach((b, j) =>
          out.push({ field: `${path}.rules[${i}].backends[${j}]`, kind: 'Service', name: b.service, subset: b.subset }),
        ),
      );
      s.policies?.forEach((p, i) => out.push({ field: `${path}.policies[${i}]`, kind: 'Policy', name: p }));
      break;
    }
    case 'Listener':
      (r.spec as unknown as ListenerSpec).routes.forEach((n, i) => out.push({ field: `${path}.routes[${i}]`, kind: 'Route', name: n }));
      break;
  }
  return out;
}

/** JSON fragments (for jsonb containment) that find referrers of a resource. */
export function referrerQueries(kind: Kind, name: string, subset?: string): { kind: Kind; fragment: object }[] {
  switch (kind) {
    case 'Service':
      return [{ kind: 'Route', fragment: { rules: [{ backends: [{ service: name, ...(subset ? { subset } : {}) }] }] } }];
    case 'Route':
      return [{ kind: 'Listener', fragment: { routes: [name] } }];
    case 'Policy':
      return [
        { kind: 'Service', fragment: { policies: [name] } },
        { kind: 'Route', fragment: { policies: [name] } },
      ];
    default:
      return [];
  }
}

/**
 * The spec of `referrer` with every reference to `target` removed, or null when
 * nothing meaningful is left (a route with no rules), meaning delete it too.
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
  if (referrer.kind === 'Route' && target.kind === 'Service') {
    spec.rules = (spec as RouteSpec).rules
      .map((rule) => ({ ...rule, backends: rule.backends.filter((b) => b.service !== target.name) }))
      .filter((rule) => rule.backends.length > 0 && rule.backends.some((b) => b.weight > 0));
    return spec.rules.length ? spec : null;
  }
  return spec;
}
