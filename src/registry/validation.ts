import { formatError, violationOf } from '../common/config-format.js';
import { type FieldViolation, TooLarge, ValidationFailed } from '../common/errors.js';
import { parseLabelSelector } from './label-selector.js';
import { validatePlain } from '../common/validate.js';
import { policyKind } from '../policies/index.js';
import { checkRetry } from '../policies/retry/retry.schema.js';
import { DTO_BY_KIND, type ResourceDto } from './dto/index.js';
import { type ConfigSpec, type HeaderMatch, KINDS, type Kind, type ListenerSpec, type PolicySpec, type ResourceInput, type RolloutMetric, type RolloutSpec, type RouteSpec, type ServiceSpec } from '../model/resources.js';

/** A resource after validation, with the optional version the client expects. */
export interface ParsedResource {
  input: ResourceInput;
  expectedVersion?: number;
}

/**
 * Validates one resource (shape and cross-field rules, not references).
 * `body` may be a DTO instance the ValidationPipe already checked, or a plain object.
 * `heartbeat`: an Endpoint held in coordination, the only kind that may carry spec.ttlSeconds.
 */
export function parseResource(
  body: unknown,
  opts: { kind?: Kind; service?: string; namespace?: string; group?: string; name?: string; prefix?: string; heartbeat?: boolean } = {},
): ParsedResource {
  const prefix = opts.prefix ?? '';
  const at = (f: string) => (prefix ? `${prefix}.${f}` : f);
  let kind = opts.kind;
  if (!kind) {
    const k = (body as { kind?: unknown } | null)?.kind;
    if (typeof k !== 'string' || !(KINDS as readonly string[]).includes(k)) {
      throw new ValidationFailed([{ field: at('kind'), message: `must be one of: ${KINDS.join(', ')}` }]);
    }
    kind = k as Kind;
  }
  const cls = DTO_BY_KIND[kind];
  const dto = (body instanceof cls ? body : validatePlain(cls, body, prefix)) as ResourceDto & { service?: string; namespace?: string; group?: string; spec: object };
  const violations: FieldViolation[] = [];
  let service: string | undefined;
  const scope: { namespace?: string; group?: string } = {};
  if (kind === 'Config') {
    for (const f of ['namespace', 'group'] as const) {
      const fromUrl = opts[f];
      if (fromUrl !== undefined && dto[f] !== undefined && dto[f] !== fromUrl) violations.push({ field: at(f), message: `must match the ${f} in the URL (${fromUrl})` });
      scope[f] = fromUrl ?? dto[f];
      if (scope[f] === undefined) violations.push({ field: at(f), message: 'is required' });
    }
  }
  if (kind === 'Endpoint') {
    service = opts.service ?? dto.service;
    if (opts.service && dto.service && dto.service !== opts.service)
      violations.push({ field: at('service'), message: `must match the service in the URL (${opts.service})` });
    if (!service) violations.push({ field: at('service'), message: 'is required' });
    // A durable row has no lease: a TTL stored on it would be shown and never honoured.
    if (!opts.heartbeat && (dto.spec as { ttlSeconds?: unknown }).ttlSeconds !== undefined)
      violations.push({
        field: at('spec.ttlSeconds'),
        message: 'is only for heartbeat endpoints, registered with POST /api/v1/services/{service}/endpoints; PUT, PATCH, /apply and gRPC write durable endpoints, which have no TTL',
      });
  }
  if (opts.name !== undefined) {
    if (dto.name !== undefined && dto.name !== opts.name)
      violations.push({ field: at('name'), message: `must match the name in the URL (${opts.name})` });
    dto.name = opts.name;
  } else if (dto.name === undefined && kind !== 'Endpoint') {
    violations.push({ field: at('name'), message: 'is required' });
  }
  const input: ResourceInput = {
    kind,
    name: dto.name,
    ...(service !== undefined ? { service } : {}),
    ...scope,
    labels: { ...(dto.labels ?? {}) },
    spec: toPlain(dto.spec),
  };
  if (kind === 'Config') {
    // A map target is shorthand for the selector of its equalities.
    const target = (input.spec as unknown as ConfigSpec).gray?.target as { labels?: unknown } | undefined;
    if (target?.labels && typeof target.labels === 'object')
      target.labels = Object.entries(target.labels as Record<string, string>).map(([k, v]) => `${k}=${v}`).join(',');
    const big = configTooLarge(input.spec as unknown as ConfigSpec, at('spec'));
    if (big.length) throw new TooLarge(big);
  }
  violations.push(...semanticViolations(input, at('spec')));
  if (violations.length) throw new ValidationFailed(violations);
  return { input, expectedVersion: dto.version };
}

/** DTO instance → plain JSON data, dropping undefined fields. */
export function toPlain<T>(v: T): Record<string, unknown> {
  return JSON.parse(JSON.stringify(v));
}

/** Rules that span fields of one resource (references to others are checked by the store). */
export function semanticViolations(r: ResourceInput, path: string): FieldViolation[] {
  switch (r.kind) {
    case 'Service':
      return serviceRules(r.spec as unknown as ServiceSpec, path);
    case 'Route':
      return routeRules(r.spec as unknown as RouteSpec, path);
    case 'Listener':
      return [...duplicates((r.spec as unknown as ListenerSpec).routes, `${path}.routes`), ...duplicates((r.spec as unknown as ListenerSpec).policies, `${path}.policies`)];
    case 'Policy':
      return policyRules(r.spec as PolicySpec, path);
    case 'Rollout':
      return rolloutRules(r.spec as unknown as RolloutSpec, path);
    case 'Config':
      return configRules(r.spec as unknown as ConfigSpec, path);
    default:
      return [];
  }
}

function duplicates(items: string[] | undefined, path: string): FieldViolation[] {
  const seen = new Set<string>();
  const out: FieldViolation[] = [];
  items?.forEach((v, i) => {
    if (seen.has(v)) out.push({ field: `${path}[${i}]`, message: `duplicate ${JSON.stringify(v)}` });
    seen.add(v);
  });
  return out;
}

function serviceRules(s: ServiceSpec, path: string): FieldViolation[] {
  const out = duplicates(s.subsets?.map((x) => x.name), `${path}.subsets`).map((v) => ({ ...v, field: `${v.field}.name` }));
  out.push(...duplicates(s.policies, `${path}.policies`));
  s.subsets?.forEach((sub, i) => {
    if (Object.keys(sub.labels).length === 0) out.push({ field: `${path}.subsets[${i}].labels`, message: 'must select at least one label' });
  });
  return out;
}

function routeRules(s: RouteSpec, path: string): FieldViolation[] {
  const out = duplicates(s.hosts, `${path}.hosts`);
  out.push(...duplicates(s.policies, `${path}.policies`));
  out.push(...duplicates(s.rules.map((r, i) => r.name ?? `\u0000${i}`), `${path}.rules`).map((v) => ({ ...v, field: `${v.field}.name` })));
  s.rules.forEach((rule, i) => {
    const rp = `${path}.rules[${i}]`;
    const m = rule.match;
    const kinds = (['pathPrefix', 'path', 'regex'] as const).filter((k) => m?.[k] !== undefined);
    if (kinds.length > 1) out.push({ field: `${rp}.match`, message: `set only one of pathPrefix, path, regex (got ${kinds.join(', ')})` });
    if (m?.regex !== undefined) out.push(...regexProblem(m.regex, `${rp}.match.regex`));
    m?.headers?.forEach((h, j) => out.push(...headerRules(h, `${rp}.match.headers[${j}]`)));
    const total = rule.backends.reduce((a, b) => a + b.weight, 0);
    if (total <= 0) out.push({ field: `${rp}.backends`, message: 'weights must add up to more than 0' });
    out.push(
      ...duplicates(rule.backends.map((b) => `${b.service}/${b.subset ?? ''}`), `${rp}.backends`).map((v) => ({
        ...v,
        message: 'duplicate service and subset',
      })),
    );
    out.push(...checkRetry(rule.retry, `${rp}.retry`));
  });
  return out;
}

function headerRules(h: HeaderMatch, hp: string): FieldViolation[] {
  const out: FieldViolation[] = [];
  const set = (['exact', 'prefix', 'regex', 'present'] as const).filter((k) => h[k] !== undefined);
  if (set.length !== 1) out.push({ field: hp, message: `set exactly one of exact, prefix, regex, present (got ${set.length ? set.join(', ') : 'none'})` });
  if (h.present === false) out.push({ field: `${hp}.present`, message: 'must be true when set (use invert to match absence)' });
  if (h.regex !== undefined) out.push(...regexProblem(h.regex, `${hp}.regex`));
  return out;
}

const BUILTIN_METRICS: Record<string, { needs: keyof RolloutMetric; query: boolean }> = {
  successRate: { needs: 'min', query: false },
  successRateVsStable: { needs: 'maxDropPoints', query: false },
  latencyP99: { needs: 'maxMs', query: true },
};

function rolloutRules(s: RolloutSpec, path: string): FieldViolation[] {
  const out: FieldViolation[] = duplicates(s.routes, `${path}.routes`);
  if (s.stable === s.canary) out.push({ field: `${path}.canary`, message: 'must differ from stable' });
  s.steps.forEach((step, i) => {
    const sp = `${path}.steps[${i}]`;
    const set = (['setWeight', 'setHeaderRoute', 'pause'] as const).filter((k) => step[k] !== undefined);
    if (set.length !== 1) out.push({ field: sp, message: `set exactly one of setWeight, setHeaderRoute, pause (got ${set.length ? set.join(', ') : 'none'})` });
    if (step.setHeaderRoute) out.push(...headerRules(step.setHeaderRoute, `${sp}.setHeaderRoute`));
  });
  const metrics = s.analysis?.metrics ?? [];
  out.push(...duplicates(metrics.map((m) => m.name), `${path}.analysis.metrics`).map((v) => ({ ...v, field: `${v.field}.name` })));
  metrics.forEach((m, i) => {
    const mp = `${path}.analysis.metrics[${i}]`;
    const builtin = BUILTIN_METRICS[m.name];
    if (builtin) {
      if (m[builtin.needs] === undefined) out.push({ field: `${mp}.${builtin.needs}`, message: `is required for ${m.name}` });
      if (m.query !== undefined && !builtin.query) out.push({ field: `${mp}.query`, message: `${m.name} is measured from load reports; it takes no query` });
      if (m.name === 'successRate' && m.min !== undefined && (m.min < 0 || m.min > 100)) out.push({ field: `${mp}.min`, message: 'must be a percentage, 0 to 100' });
    } else {
      if (m.query === undefined) out.push({ field: `${mp}.query`, message: `is required: ${m.name} is not one of ${Object.keys(BUILTIN_METRICS).join(', ')}` });
      if (m.min === undefined && m.max === undefined) out.push({ field: mp, message: 'set min or max' });
    }
  });
  return out;
}

// Envoy uses RE2: reject what JavaScript cannot compile and the constructs RE2 lacks.
function regexProblem(re: string, field: string): FieldViolation[] {
  try {
    new RegExp(re, 'u');
  } catch (e) {
    return [{ field, message: `invalid regular expression: ${(e as Error).message}` }];
  }
  if (/\(\?<?[=!]|\\[1-9]/.test(re)) return [{ field, message: 'lookaround and backreferences are not supported (RE2 syntax)' }];
  return [];
}

function policyRules(s: PolicySpec, path: string): FieldViolation[] {
  const kind = policyKind(s.type);
  return kind?.check ? kind.check(s[s.type], `${path}.${s.type}`) : [];
}

/** The most a config's content (and its gray candidate) may hold. */
export const CONFIG_MAX_BYTES = 1024 * 1024;

function configTooLarge(s: ConfigSpec, path: string): FieldViolation[] {
  const out: FieldViolation[] = [];
  const check = (content: string | undefined, field: string) => {
    const n = content === undefined ? 0 : Buffer.byteLength(content);
    if (n > CONFIG_MAX_BYTES) out.push({ field, message: `is ${n} bytes; a config holds at most ${CONFIG_MAX_BYTES} bytes (1 MiB)` });
  };
  check(s.content, `${path}.content`);
  check(s.gray?.content, `${path}.gray.content`);
  return out;
}

function configRules(s: ConfigSpec, path: string): FieldViolation[] {
  const out: FieldViolation[] = [];
  const e = formatError(s.format, s.content);
  if (e) out.push(violationOf(`${path}.content`, e));
  if (s.gray) {
    const g = formatError(s.format, s.gray.content);
    if (g) out.push(violationOf(`${path}.gray.content`, g));
    const t = s.gray.target;
    if (t.labels === undefined && t.percent === undefined) out.push({ field: `${path}.gray.target`, message: 'set labels, percent, or both' });
    if (t.labels !== undefined) {
      try {
        if (!parseLabelSelector(t.labels).length) out.push({ field: `${path}.gray.target.labels`, message: 'must select something' });
      } catch (err) {
        const v = err instanceof ValidationFailed ? err.violations[0]?.message : (err as Error).message;
        out.push({ field: `${path}.gray.target.labels`, message: v ?? 'is not a label selector' });
      }
    }
  }
  return out;
}
