/**
 * The access policy, in one place: for every REST route and every gRPC method,
 * the role it needs and what it touches (for scopes). A route or method that
 * is not listed here is refused (deny by default), and the auth-matrix test
 * checks that every route Express serves and every RPC of our services has an
 * entry, so a new route cannot go out unguarded by accident.
 */
import YAML from 'yaml';
import { type Kind, PLURAL } from '../model/resources.js';
import type { Need, Role, Target } from './roles.js';

/** What a target function can look at: the raw request, before validation. */
export interface PolicyRequest {
  params: Record<string, string | undefined>;
  query: Record<string, unknown>;
  body: unknown;
}

/** A route's entry: open to everyone, or a role and what the request touches. */
export type Policy = { public: true } | { role: Role; target: (r: PolicyRequest) => Target };

const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);
const isTrue = (v: unknown) => v === true || v === 'true' || v === '1';
const asKind = (v: unknown): Kind => String(v) as Kind;

/** What one resource document (REST body, apply document, gRPC resource) touches. */
function targetOfDoc(doc: unknown): { kind: Kind; service?: string; namespace?: string } | undefined {
  if (!doc || typeof doc !== 'object') return undefined;
  const d = doc as Record<string, unknown>;
  const kind = asKind(d.kind);
  if (kind === 'Endpoint') return { kind, service: str(d.service) ?? '' };
  if (kind === 'Service') return { kind, service: str(d.name) ?? '' };
  if (kind === 'Config') return { kind, namespace: str(d.namespace) ?? '' };
  return { kind };
}

/** The union of what several documents touch; `global` when one cannot be read. */
export function targetOfDocs(docs: unknown[]): Target {
  const kinds = new Set<Kind>();
  const services = new Set<string>();
  const namespaces = new Set<string>();
  for (const doc of docs) {
    const t = targetOfDoc(doc);
    if (!t) return 'global';
    kinds.add(t.kind);
    if (t.service !== undefined) services.add(t.service);
    if (t.namespace !== undefined) namespaces.add(t.namespace);
  }
  return { kinds: [...kinds], ...(services.size ? { services: [...services] } : {}), ...(namespaces.size ? { namespaces: [...namespaces] } : {}) };
}

/**
 * What an apply or preview body touches. Parsed only for scoped callers; a
 * body that cannot be read touches "everything" (the handler then answers 400
 * to an unscoped caller; a scoped one is refused, as we cannot tell).
 */
function applyTarget(body: unknown): Target {
  let docs: unknown[] | undefined;
  try {
    if (typeof body === 'string') docs = YAML.parseAllDocuments(body).flatMap((d) => (d.errors.length ? [undefined] : [d.toJS({ maxAliasCount: 50 })].flat()).filter((v) => v !== null));
    else if (Array.isArray(body)) docs = body;
    else if (body && typeof body === 'object') docs = Array.isArray((body as { resources?: unknown }).resources) ? (body as { resources: unknown[] }).resources : [body];
  } catch {
    docs = undefined;
  }
  return docs?.length ? targetOfDocs(docs) : 'global';
}

/** Endpoints are operators' business; every other resource write is an editor's. */
const writeRole = (t: Target): Role => (typeof t === 'object' && t.kinds?.length && t.kinds.every((k) => k === 'Endpoint') ? 'operator' : 'editor');

const OPEN: Policy = { public: true };
const read = (target: (r: PolicyRequest) => Target): Policy => ({ role: 'viewer', target });
const need = (role: Role, target: (r: PolicyRequest) => Target): Policy => ({ role, target });
const fixed = (t: Target) => () => t;

function resourceRoutes(kind: Exclude<Kind, 'Endpoint' | 'Config'>): Record<string, Policy> {
  const base = `/api/v1/${PLURAL[kind]}`;
  const one = (r: PolicyRequest): Target => ({ kinds: kind === 'Service' ? ['Service', 'Endpoint'] : [kind], ...(kind === 'Service' ? { services: [r.params.name ?? ''] } : {}) });
  const named = (r: PolicyRequest): Target => (kind === 'Service' ? { kinds: ['Service'], services: [r.params.name ?? ''] } : { kinds: [kind] });
  return {
    [`GET ${base}`]: read(fixed({ kinds: [kind] })),
    [`POST ${base}`]: need('editor', (r) => (kind === 'Service' ? { kinds: ['Service'], services: [str((r.body as { name?: unknown })?.name) ?? ''] } : { kinds: [kind] })),
    [`GET ${base}/:name`]: read(named),
    [`GET ${base}/:name/history`]: read(named),
    [`GET ${base}/:name/history/:version`]: read(named),
    [`PUT ${base}/:name`]: need('editor', named),
    [`PATCH ${base}/:name`]: need('editor', named),
    // A service's endpoints go with it; cascade rewrites referrers of any kind.
    [`DELETE ${base}/:name`]: need('editor', (r) => (isTrue(r.query.cascade) ? 'global' : one(r))),
  };
}

const endpoint = (r: PolicyRequest): Target => ({ kinds: ['Endpoint'], services: [r.params.service ?? ''] });
const config = (r: PolicyRequest): Target => ({ kinds: ['Config'], namespaces: [r.params.namespace ?? ''] });
const configQuery = (r: PolicyRequest): Target => ({ kinds: ['Config'], ...(str(r.query.namespace) ? { namespaces: [str(r.query.namespace)!] } : {}) });
const CFG = '/api/v1/configs/:namespace/:group/:name';
const EP = '/api/v1/services/:service/endpoints';

/** Every REST route, as `METHOD /express/path`, and what it needs. */
export const REST_POLICY: Readonly<Record<string, Policy>> = {
  // Probes and metrics stay open: orchestrators and Prometheus scrape them without credentials.
  'GET /health': OPEN,
  'GET /ready': OPEN,
  'GET /metrics': OPEN,
  // The dashboard's files (src/ui/dashboard.ts, ahead of Nest): no data in them; the API calls they make are guarded.
  'GET /': OPEN,
  'GET /ui/': OPEN,
  'GET /api/v1/version': read(fixed('none')),

  ...resourceRoutes('Service'),
  ...resourceRoutes('Route'),
  ...resourceRoutes('Listener'),
  ...resourceRoutes('Policy'),
  ...resourceRoutes('Rollout'),
  'POST /api/v1/rollouts/:name/:action': need('operator', fixed({ kinds: ['Rollout'] })),

  [`GET ${EP}`]: read(endpoint),
  [`POST ${EP}`]: need('operator', endpoint),
  [`GET ${EP}/:name`]: read(endpoint),
  [`GET ${EP}/:name/history`]: read(endpoint),
  [`GET ${EP}/:name/history/:version`]: read(endpoint),
  [`PUT ${EP}/:name`]: need('operator', endpoint),
  [`PATCH ${EP}/:name`]: need('operator', endpoint),
  [`DELETE ${EP}/:name`]: need('operator', endpoint),
  [`PUT ${EP}/:name/heartbeat`]: need('operator', endpoint),

  'POST /api/v1/apply': need('editor', (r) => applyTarget(r.body)),
  'POST /api/v1/preview': need('editor', (r) => applyTarget(r.body)),
  'GET /api/v1/changes': read(fixed('global')),
  // A rollback may touch any resource: only an unscoped editor.
  'POST /api/v1/rollback': need('editor', fixed('global')),
  'POST /api/v1/preview/rollback': need('editor', fixed('global')),
  'GET /api/v1/audit': need('admin', fixed('global')),

  'GET /api/v1/configs': read(configQuery),
  'POST /api/v1/configs': need('editor', (r) => ({ kinds: ['Config'], namespaces: [str((r.body as { namespace?: unknown })?.namespace) ?? ''] })),
  'GET /api/v1/configs/watch': read(configQuery),
  'GET /api/v1/configs/stream': read(configQuery),
  [`GET ${CFG}`]: read(config),
  [`PUT ${CFG}`]: need('editor', config),
  [`PATCH ${CFG}`]: need('editor', config),
  [`DELETE ${CFG}`]: need('editor', config),
  [`GET ${CFG}/history`]: read(config),
  [`GET ${CFG}/history/:revision`]: read(config),
  [`GET ${CFG}/diff`]: read(config),
  [`GET ${CFG}/instances`]: read(config),
  [`POST ${CFG}/rollback`]: need('editor', config),
  [`PUT ${CFG}/gray`]: need('editor', config),
  [`POST ${CFG}/gray/promote`]: need('editor', config),
  [`DELETE ${CFG}/gray`]: need('editor', config),
  // An instance that may read a config may say which revision it applied (the config client acks with its watch token).
  [`POST ${CFG}/ack`]: read(config),

  'GET /api/v1/proxies': read(fixed('global')),
  'GET /api/v1/proxies/:id/config': read(fixed('global')),
  'GET /api/v1/events': read((r) => (str(r.query.service) ? { kinds: ['Endpoint'], services: [str(r.query.service)!] } : 'global')),

  'POST /api/v1/tokens': need('admin', fixed('global')),
  'GET /api/v1/tokens': need('admin', fixed('global')),
  'DELETE /api/v1/tokens/:id': need('admin', fixed('global')),
};

/** The policy of a route (HEAD is GET), or undefined: refused. */
export function restPolicy(method: string, path: string): Policy | undefined {
  return REST_POLICY[`${method === 'HEAD' ? 'GET' : method} ${path}`];
}

/* ---- gRPC: the same decision per method, from the decoded request ---- */

type Rpc = Record<string, any>;

const key = (k: Rpc | null | undefined): Target => {
  const kind = asKind(k?.kind);
  return { kinds: [kind], ...(kind === 'Endpoint' ? { services: [String(k?.service ?? '')] } : kind === 'Service' ? { services: [String(k?.name ?? '')] } : {}) };
};
const resource = (r: Rpc | null | undefined): Target => targetOfDocs([{ ...(r ?? {}), kind: r?.kind ?? '' }]);
const ns = (v: unknown): Target => ({ kinds: ['Config'], namespaces: [String(v ?? '')] });

/** A gRPC method's entry: what it needs, from its request. */
export type GrpcPolicy = (req: Rpc) => Need;

/** Every RPC of switchyard.v1.Registry and switchyard.v1.Configs, as `Service/Method`. */
export const GRPC_POLICY: Readonly<Record<string, GrpcPolicy>> = {
  'Registry/Get': (q) => ({ role: 'viewer', target: key(q.key) }),
  'Registry/List': (q) => ({ role: 'viewer', target: { kinds: [asKind(q.kind)], ...(q.kind === 'Endpoint' ? { services: [String(q.service ?? '')] } : {}) } }),
  'Registry/Create': (q) => withWriteRole(resource(q.resource)),
  'Registry/Update': (q) => withWriteRole(resource(q.resource)),
  'Registry/Delete': (q) => (q.cascade ? { role: 'editor', target: 'global' } : withWriteRole(asKind(q.key?.kind) === 'Service' ? { ...(key(q.key) as object), kinds: ['Service', 'Endpoint'] } : key(q.key))),
  'Registry/Apply': (q) => ({ role: 'editor', target: Array.isArray(q.resources) && q.resources.length ? targetOfDocs(q.resources.map((r: Rpc) => ({ ...r, kind: r?.kind ?? '' }))) : 'global' }),
  'Registry/ListChanges': () => ({ role: 'viewer', target: 'global' }),
  'Registry/RolloutAction': () => ({ role: 'operator', target: { kinds: ['Rollout'] } }),
  'Registry/Rollback': () => ({ role: 'editor', target: 'global' }),
  'Configs/Watch': (q) => ({ role: 'viewer', target: ns(q.namespace) }),
  'Configs/Get': (q) => ({ role: 'viewer', target: ns(q.key?.namespace) }),
  'Configs/List': (q) => ({ role: 'viewer', target: ns(q.namespace) }),
  'Configs/Ack': (q) => ({ role: 'viewer', target: ns(q.key?.namespace) }),
};

function withWriteRole(target: Target): Need {
  return { role: writeRole(target), target };
}
