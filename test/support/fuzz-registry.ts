import fc from 'fast-check';
import { ValidationFailed } from '../../src/common/errors.js';
import type { CheckedState } from '../../src/model/health.js';
import { HEALTH_STATES, type Kind, PROTOCOLS, type ResourceInput, type Resource, type EndpointSpec, type PolicySpec, type RouteSpec, type ListenerSpec, type RolloutSpec, type ServiceSpec } from '../../src/model/resources.js';
import { POLICY_KINDS, policyKind } from '../../src/policies/index.js';
import { RetryDto } from '../../src/policies/retry/retry.schema.js';
import { outgoingRefs } from '../../src/registry/references.js';
import { parseResource } from '../../src/registry/validation.js';
import type { TranslateInput } from '../../src/translate/ir.js';
import { groupKey, type NodeGroup } from '../../src/translate/types.js';
import { intArbitrary, ipArbitrary, schemaArbitrary, stringArbitrary } from './fuzz-schema.js';

/*
 * Random registries for fuzzing translation. Every resource is passed through
 * parseResource, the validator behind the REST and gRPC APIs, so each one is a
 * body the API accepts. References are then made to hold the way the store's
 * integrity check requires (a dangling reference is dropped, never invented),
 * unless a case asks for unchecked references. Names come from small pools so
 * that references, subsets and labels hit each other often.
 */

/** One fuzz case: what translation reads, in plain JSON (so a failing case can be saved as a regression file). */
export interface FuzzCase {
  /** Registry resources as the API accepted them. */
  resources: ResourceInput[];
  /** Heartbeat (TTL) endpoints, as registered. */
  heartbeat: ResourceInput[];
  /** Active health-check results: service → endpoint → state. */
  checked: Record<string, Record<string, CheckedState>>;
  panicShare?: number;
  /** Node groups asked for besides the proxyless one and one Envoy group per listener group. */
  groups: NodeGroup[];
  /** References were left as generated (each resource valid alone, the registry not). */
  unchecked?: boolean;
}

const SERVICES = ['echo', 'api', 'otel', 'x'.repeat(63)];
const SUBSETS = ['v1', 'v2', 'canary'];
const ENDPOINTS = ['e1', 'e2', 'e3', 'e4', 'e5'];
const ROUTES = ['web', 'grpc', 'r3'];
const LISTENERS = ['edge', 'internal', 'l3'];
const POLICIES = Array.from({ length: 8 }, (_, i) => `p${i}`);
/** Label keys; some named like Object.prototype members, which free-form maps must keep like any other key. */
const LABEL_KEYS = ['version', 'track', 'example.com/tier', 'constructor', 'toString', 'valueOf'];
const LABEL_VALUES = ['v1', 'v2', 'canary', '', 'a.b_c-9'];

const pick = (names: string[]) => fc.constantFrom(...names);
const serviceName = pick(SERVICES);
const subsetName = pick(SUBSETS);
const labelMap = (minKeys = 0) => fc.dictionary(pick(LABEL_KEYS), pick(LABEL_VALUES), { minKeys, maxKeys: 2 });
const opt = { requiredKeys: [] as never[] };

/** Locality names: a few shared ones (so clients' localities match), and anything the API allows (≤ 128 characters). */
const localityName = fc.oneof({ arbitrary: pick(['r1', 'r2', 'z1', 'z2', '']), weight: 4 }, { arbitrary: stringArbitrary(0, 128), weight: 1 });
/** Listener groups (node.cluster): any string of 1 to 128 characters. */
const groupName = fc.oneof({ arbitrary: pick(['default', 'edge']), weight: 4 }, { arbitrary: stringArbitrary(1, 128), weight: 1 });

const schemaOptions = {
  dnsLabel: fc.oneof(serviceName, subsetName),
  overrides: { 'TraceCollectorDto.service': serviceName, 'TraceCollectorDto.subset': subsetName },
};

/** A Policy of any registered type, its settings derived from the type's schema. */
const policyArb: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  ...POLICY_KINDS.map((k) =>
    fc.record({ name: pick(POLICIES), settings: schemaArbitrary(k.schema, schemaOptions) }).map(({ name, settings }) => ({ kind: 'Policy', name, spec: { type: k.type, [k.type]: settings } })),
  ),
);

const serviceArb = fc.record({
  kind: fc.constant('Service'),
  name: serviceName,
  labels: labelMap(),
  spec: fc.record(
    {
      protocol: fc.constantFrom(...PROTOCOLS),
      port: intArbitrary(1, 65535),
      connectTimeoutMs: intArbitrary(1, 600000),
      subsets: fc.uniqueArray(fc.record({ name: subsetName, labels: labelMap(1) }), { selector: (s) => s.name, maxLength: 3 }),
      policies: fc.uniqueArray(pick(POLICIES), { maxLength: 4 }),
    },
    { requiredKeys: ['protocol', 'port'] },
  ),
});

const endpointArb = fc.record({
  kind: fc.constant('Endpoint'),
  name: pick(ENDPOINTS),
  service: serviceName,
  spec: fc.record(
    {
      address: ipArbitrary,
      port: intArbitrary(1, 65535),
      weight: intArbitrary(1, 128),
      locality: fc.record({ region: localityName, zone: localityName, subZone: localityName }, opt),
      labels: labelMap(),
      health: fc.constantFrom(...HEALTH_STATES),
      ttlSeconds: intArbitrary(1, 86400),
    },
    { requiredKeys: ['address', 'port'] },
  ),
});

const path = fc.oneof(pick(['/', '/api', '/echo.Echo/Call']), stringArbitrary(0, 40).map((s) => `/${s}`));
/** Regular expressions: common ones, and random strings (the API refuses what does not compile, and lookarounds). */
const regex = fc.oneof({ arbitrary: pick(['.*', '/api/.*', '[a-z]+', '/v[0-9]+/(a|b)', '\\d+', 'é+']), weight: 3 }, { arbitrary: stringArbitrary(1, 16), weight: 1 });
const headerName = fc.oneof(pick(['x-canary', ':authority', ':path', 'user-agent', 'content-type']), fc.stringMatching(/^:?[0-9a-zA-Z!#$%&'*+\-.^_|~`]{1,20}$/));
const headerMatch = fc
  .tuple(
    fc.record({ name: headerName, invert: fc.boolean() }, { requiredKeys: ['name'] }),
    fc.oneof(
      fc.record({ exact: stringArbitrary(0, 1024) }),
      fc.record({ prefix: stringArbitrary(1, 1024) }),
      fc.record({ regex }),
      fc.constant({ present: true }),
    ),
  )
  .map(([h, m]) => ({ ...h, ...m }));
const routeMatch = fc
  .tuple(fc.option(fc.oneof(fc.record({ pathPrefix: path }), fc.record({ path }), fc.record({ regex })), { nil: undefined }), fc.option(fc.array(headerMatch, { minLength: 1, maxLength: 2 }), { nil: undefined }))
  .map(([m, headers]) => ({ ...m, ...(headers ? { headers } : {}) }));
const backends = fc
  .uniqueArray(fc.record({ service: serviceName, subset: subsetName, weight: intArbitrary(0, 1000000) }, { requiredKeys: ['service', 'weight'] }), {
    selector: (b) => `${b.service}/${b.subset ?? ''}`,
    minLength: 1,
    maxLength: 3,
  })
  // Weights must add up to more than 0.
  .map((bs) => (bs.some((b) => b.weight > 0) ? bs : [{ ...bs[0], weight: 1 }, ...bs.slice(1)]));
const ruleArb = fc.record(
  { name: pick(['canary', 'main', 'r']), match: routeMatch, backends, timeoutMs: intArbitrary(1, 3600000), retry: schemaArbitrary(RetryDto, schemaOptions) },
  { requiredKeys: ['backends'] },
);
const host = fc.oneof(pick(['echo', 'api', 'echo.svc.local', '*', '*.example.com', 'echo:8080', `${'x'.repeat(63)}.com`]), fc.stringMatching(/^[a-z0-9]{1,8}(\.[a-z0-9]{1,8}){0,2}$/));

const routeArb = fc.record({
  kind: fc.constant('Route'),
  name: pick(ROUTES),
  spec: fc.record(
    { hosts: fc.uniqueArray(host, { minLength: 1, maxLength: 3 }), rules: fc.array(ruleArb, { minLength: 1, maxLength: 4 }), policies: fc.uniqueArray(pick(POLICIES), { maxLength: 4 }) },
    { requiredKeys: ['hosts', 'rules'] },
  ),
});

const listenerArb = fc.record({
  kind: fc.constant('Listener'),
  name: pick(LISTENERS),
  spec: fc.record(
    {
      group: groupName,
      address: ipArbitrary,
      port: fc.oneof(fc.constantFrom(10000, 10001), intArbitrary(1, 65535)),
      protocol: fc.oneof({ arbitrary: fc.constantFrom('http', 'grpc'), weight: 4 }, { arbitrary: fc.constant('tcp'), weight: 1 }),
      routes: fc.uniqueArray(pick(ROUTES), { maxLength: 3 }),
      policies: fc.uniqueArray(pick(POLICIES), { maxLength: 3 }),
    },
    { requiredKeys: ['group', 'address', 'port', 'protocol', 'routes'] },
  ),
});

const rolloutArb = fc.record({
  kind: fc.constant('Rollout'),
  name: pick(['canary', 'ro']),
  spec: fc.record({ service: serviceName, stable: subsetName, canary: subsetName, steps: fc.constant([{ setWeight: 10 }, { pause: {} }]), routes: fc.uniqueArray(pick(ROUTES), { minLength: 1, maxLength: 1 }) }, { requiredKeys: ['service', 'stable', 'canary', 'steps'] }).filter((s) => s.stable !== s.canary),
});

/** Resource bodies by kind, near what the API accepts (names from small pools, references not made to hold): the valid end of the REST fuzzer's bodies. */
export const resourceArbitraries: Record<string, fc.Arbitrary<Record<string, unknown>>> = { Policy: policyArb, Service: serviceArb, Endpoint: endpointArb, Route: routeArb, Listener: listenerArb, Rollout: rolloutArb };

const locality = fc.record({ region: localityName, zone: localityName, subZone: localityName });
const groupArb: fc.Arbitrary<NodeGroup> = fc.record(
  { kind: fc.constantFrom('envoy' as const, 'proxyless' as const), cluster: groupName, locality },
  { requiredKeys: ['kind', 'cluster'] },
).map((g) => (g.kind === 'proxyless' ? { ...g, cluster: '' } : g));

const unique = <T extends Record<string, unknown>>(arb: fc.Arbitrary<T>, maxLength: number, minLength = 0) =>
  fc.uniqueArray(arb, { selector: (r) => `${r.service ?? ''}/${r.name}`, minLength, maxLength });

/** Random registries the API would accept (or, with `unchecked`, whose resources it accepts one by one). */
export function fuzzCaseArbitrary(opts: { unchecked?: boolean } = {}): fc.Arbitrary<FuzzCase> {
  return fc
    .record({
      policies: unique(policyArb, 8),
      services: unique(serviceArb, 4, 1),
      endpoints: unique(endpointArb, 10),
      routes: unique(routeArb, 3, 1),
      listeners: unique(listenerArb, 3),
      rollouts: unique(rolloutArb, 2),
      heartbeat: unique(endpointArb, 4),
      checked: fc.array(fc.tuple(serviceName, pick(ENDPOINTS), fc.constantFrom<CheckedState>('unknown', 'healthy', 'unhealthy')), { maxLength: 8 }),
      panicShare: fc.option(fc.oneof(fc.constantFrom(0, 0.5, 1), fc.double({ min: 0, max: 1, noNaN: true })), { nil: undefined }),
      groups: fc.array(groupArb, { maxLength: 2 }),
    })
    .map((g) => {
      const accepted = [...g.policies.map(acceptPolicy), ...[...g.services, ...g.endpoints, ...g.routes, ...g.listeners, ...g.rollouts].map(acceptRepaired)].filter((r): r is ResourceInput => !!r);
      const resources = opts.unchecked ? accepted : withIntegrity(accepted);
      const services = new Set(resources.filter((r) => r.kind === 'Service').map((r) => r.name));
      const heartbeat = g.heartbeat.map(acceptRepaired).filter((r): r is ResourceInput => !!r && (opts.unchecked || services.has(r.service!)));
      const checked: FuzzCase['checked'] = {};
      for (const [svc, ep, state] of g.checked) (checked[svc] ??= {})[ep] = state;
      return { resources, heartbeat, checked, ...(g.panicShare !== undefined ? { panicShare: g.panicShare } : {}), groups: g.groups, ...(opts.unchecked ? { unchecked: true } : {}) };
    });
}

/**
 * parseResource on a body: what it accepted, or the refusal. Anything else it
 * throws is a bug of the API's validator (the API would answer 500), and
 * fails the case.
 */
function parse(body: unknown): { input?: ResourceInput; refused?: ValidationFailed } {
  try {
    return { input: parseResource(body).input };
  } catch (e) {
    if (e instanceof ValidationFailed) return { refused: e };
    throw new Error(`parseResource threw ${(e as Error).name} (not a ValidationFailed) on ${JSON.stringify(body)}: ${(e as Error).message}`);
  }
}

/** A body the API refuses because of one route rule loses that rule, and is tried again (random regexes, duplicate rule names). */
function acceptRepaired(body: Record<string, unknown>): ResourceInput | undefined {
  let current = structuredClone(body) as { spec: { rules?: unknown[] } };
  for (let i = 0; i < 4; i++) {
    const { input, refused } = parse(current);
    if (!refused) return input;
    const bad = new Set(refused.violations.map((v) => /^spec\.rules\[(\d+)\]/.exec(v.field)?.[1]));
    if (bad.has(undefined) || !current.spec.rules) return undefined;
    current = { ...current, spec: { ...current.spec, rules: current.spec.rules.filter((_, j) => !bad.has(String(j))) } };
    if (!current.spec.rules!.length) return undefined;
  }
  return undefined;
}

/**
 * A Policy the API refuses over some settings fields (cross-field rules such
 * as "only applies to ringHash") loses those fields and is tried again; one
 * refused for the settings as a whole is dropped.
 */
function acceptPolicy(body: Record<string, unknown>): ResourceInput | undefined {
  const current = structuredClone(body) as { spec: PolicySpec };
  const type = current.spec.type;
  const settings = current.spec[type] as Record<string, unknown>;
  for (let i = 0; i < 6; i++) {
    const { input, refused } = parse(current);
    if (!refused) return input;
    const at = `spec.${type}.`;
    const fields = refused.violations.map((v) => (v.field.startsWith(at) ? v.field.slice(at.length).split(/[.[]/)[0] : undefined));
    if (fields.some((f) => f === undefined || !(f in settings))) return undefined;
    for (const f of fields) delete settings[f!];
  }
  return undefined;
}

/**
 * The registry the store would hold after these writes. What its integrity
 * check refuses is changed into something it accepts: a backend or rollout of
 * a missing service (or subset) is pointed at an existing one, picked by a hash
 * of the name (so generated references land instead of vanishing); a policy
 * reference that is missing, of a type the holder cannot take or a second of
 * its type is dropped, as are a host another route already serves and a
 * listener's missing route. A resource left with nothing is dropped.
 */
function withIntegrity(inputs: ResourceInput[]): ResourceInput[] {
  const policies = new Map(inputs.filter((r) => r.kind === 'Policy').map((r) => [r.name, r.spec as PolicySpec]));
  const attachable = (holder: Kind, names: string[] | undefined) => {
    if (!names) return undefined;
    const types = new Set<string>();
    return names.filter((n) => {
      const type = policies.get(n)?.type;
      if (!type || types.has(type) || !policyKind(type)?.attachTo.includes(holder as 'Service')) return false;
      types.add(type);
      return true;
    });
  };
  const withPolicies = <S extends { policies?: string[] }>(r: ResourceInput, spec: S): ResourceInput => {
    const policies = attachable(r.kind, spec.policies);
    return { ...r, spec: { ...spec, ...(policies ? { policies } : {}) } as unknown as Record<string, unknown> };
  };
  const out: ResourceInput[] = inputs.filter((r) => r.kind === 'Policy');
  const services = new Map<string, ServiceSpec>();
  for (const r of inputs.filter((x) => x.kind === 'Service')) {
    const kept = withPolicies(r, r.spec as unknown as ServiceSpec);
    services.set(r.name, kept.spec as unknown as ServiceSpec);
    out.push(kept);
  }
  const serviceNames = [...services.keys()];
  const existing = (svc: string) => (services.has(svc) ? svc : serviceNames[hash(svc) % serviceNames.length]);
  const subsetOf = (svc: string, subset: string | undefined, avoid?: string) => {
    const names = (services.get(svc)!.subsets ?? []).map((s) => s.name).filter((n) => n !== avoid);
    return subset === undefined || names.includes(subset) ? subset : names.length ? names[hash(subset) % names.length] : undefined;
  };
  out.push(...inputs.filter((r) => r.kind === 'Endpoint' && services.has(r.service!)));
  const hosts = new Set<string>();
  const routes = new Set<string>();
  for (const r of inputs.filter((x) => x.kind === 'Route')) {
    const spec = r.spec as unknown as RouteSpec;
    if (!serviceNames.length) continue;
    const rules = spec.rules
      .map((rule) => {
        const seen = new Set<string>();
        const backends = rule.backends
          .map(({ subset: wanted, ...b }) => {
            const service = existing(b.service);
            const subset = subsetOf(service, wanted);
            return { ...b, service, ...(subset !== undefined ? { subset } : {}) };
          })
          // Two backends may now name the same service and subset: the API refuses that.
          .filter((b) => !seen.has(`${b.service}/${b.subset ?? ''}`) && !!seen.add(`${b.service}/${b.subset ?? ''}`));
        return { ...rule, backends };
      })
      .filter((rule) => rule.backends.some((b) => b.weight > 0));
    const free = spec.hosts.filter((h) => !hosts.has(h));
    if (!rules.length || !free.length) continue;
    for (const h of free) hosts.add(h);
    routes.add(r.name);
    out.push(withPolicies(r, { ...spec, hosts: free, rules }));
  }
  for (const r of inputs.filter((x) => x.kind === 'Listener')) {
    const spec = r.spec as unknown as ListenerSpec;
    out.push(withPolicies(r, { ...spec, routes: spec.routes.filter((n) => routes.has(n)) }));
  }
  for (const r of inputs.filter((x) => x.kind === 'Rollout')) {
    const s = r.spec as unknown as RolloutSpec;
    if (!serviceNames.length) continue;
    const service = existing(s.service);
    const stable = subsetOf(service, s.stable);
    const canary = subsetOf(service, s.canary, stable);
    const managed = s.routes?.filter((n) => routes.has(n));
    if (stable === undefined || canary === undefined || managed?.length === 0) continue;
    out.push({ ...r, spec: { ...s, service, stable, canary, ...(managed ? { routes: managed } : {}) } as unknown as Record<string, unknown> });
  }
  // Every kept resource is still one the API accepts, and every reference it makes resolves.
  const ids = new Set(out.map((r) => `${r.kind}/${r.name}`));
  for (const r of out) {
    if (!parse(r).input) throw new Error(`fuzz-registry: ${r.kind} ${r.name} became invalid while its references were repaired`);
    for (const ref of outgoingRefs(r)) {
      if (!ids.has(`${ref.kind}/${ref.name}`)) throw new Error(`fuzz-registry: ${r.kind} ${r.name} still references ${ref.kind} ${ref.name}`);
      if (ref.subset !== undefined && !services.get(ref.name)!.subsets?.some((x) => x.name === ref.subset)) throw new Error(`fuzz-registry: ${r.kind} ${r.name} references subset ${ref.subset} of ${ref.name}, which it lacks`);
    }
  }
  return out;
}

/** A small stable string hash (FNV-1a), for picking a replacement name. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

const stored = <S>(r: ResourceInput): Resource<S> => ({ ...r, version: 1, createdAt: '', updatedAt: '', status: {} }) as unknown as Resource<S>;

/** The case as translation reads it (what ChangeFeed.translateInput assembles from the mirror and coordination). */
export function translateInputOf(c: FuzzCase, revision = 1): TranslateInput {
  const heartbeat = new Map<string, Resource<EndpointSpec>[]>();
  for (const e of c.heartbeat) heartbeat.set(e.service!, [...(heartbeat.get(e.service!) ?? []), stored<EndpointSpec>(e)]);
  const checked = new Map(Object.entries(c.checked).map(([svc, eps]) => [svc, new Map(Object.entries(eps))]));
  return { revision, resources: c.resources.map((r) => stored(r)), heartbeat, checked, ...(c.panicShare !== undefined ? { panicShare: c.panicShare } : {}) };
}

/** The node groups a case is published to: proxyless clients, an Envoy group per listener group, and the case's own. */
export function groupsOf(c: FuzzCase): NodeGroup[] {
  const listenerGroups = c.resources.filter((r) => r.kind === 'Listener').map((r) => (r.spec as unknown as ListenerSpec).group);
  const all: NodeGroup[] = [{ kind: 'proxyless', cluster: '' }, ...listenerGroups.map((cluster) => ({ kind: 'envoy' as const, cluster })), ...c.groups];
  return [...new Map(all.map((g) => [groupKey(g), g])).values()];
}
