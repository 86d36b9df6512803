/**
 * The resource model: the wire format every layer shares (kinds, specs, the
 * change log). Types and constants only, so any folder may import it.
 */

/** Resource kinds the registry stores, in the order `apply` writes them (dependencies first). */
export const KINDS = ['Policy', 'Service', 'Endpoint', 'Route', 'Listener', 'Rollout', 'Config'] as const;
export type Kind = (typeof KINDS)[number];

/** Plural URL segment per kind (`/api/v1/<plural>`). */
export const PLURAL: Record<Kind, string> = {
  Policy: 'policies',
  Service: 'services',
  Endpoint: 'endpoints',
  Route: 'routes',
  Listener: 'listeners',
  Rollout: 'rollouts',
  Config: 'configs',
};

export type Labels = Record<string, string>;

/** What a client writes: the declarative part of a resource. */
export interface ResourceInput<S = Record<string, unknown>> {
  kind: Kind;
  name: string;
  /** Owning service; set for endpoints only. */
  service?: string;
  /** Config only: its namespace (environment) and group. */
  namespace?: string;
  group?: string;
  labels: Labels;
  spec: S;
}

/** A stored resource: the client's part plus server-owned fields. */
export interface Resource<S = Record<string, unknown>> extends ResourceInput<S> {
  version: number;
  createdAt: string;
  updatedAt: string;
  status: Record<string, unknown>;
}

/** Identity of a resource in the store. */
export interface ResourceKey {
  kind: Kind;
  /** Service name for endpoints, '' otherwise. */
  scope: string;
  name: string;
}

/** What scopes a name: an endpoint's service, a config's namespace and group; nothing for other kinds. */
export const scopeOf = (r: { kind: Kind; service?: string; namespace?: string; group?: string }): string =>
  r.kind === 'Endpoint' ? (r.service ?? '') : r.kind === 'Config' ? `${r.namespace ?? ''}/${r.group ?? ''}` : '';

/** The scope fields of a stored resource, from its scope. */
export function scopeFields(kind: Kind, scope: string): { service?: string; namespace?: string; group?: string } {
  if (kind === 'Endpoint') return { service: scope };
  if (kind === 'Config') {
    const i = scope.indexOf('/');
    return { namespace: scope.slice(0, i), group: scope.slice(i + 1) };
  }
  return {};
}

export const keyOf = (r: { kind: Kind; name: string; service?: string; namespace?: string; group?: string }): ResourceKey => ({ kind: r.kind, scope: scopeOf(r), name: r.name });

/** One string per resource identity: `kind/scope/name`. */
export const idOf = (r: { kind: Kind; name: string; service?: string; namespace?: string; group?: string }) => `${r.kind}/${scopeOf(r)}/${r.name}`;

export const describeKey = (k: ResourceKey): string => (k.kind === 'Endpoint' || k.kind === 'Config' ? `${k.kind} ${k.scope}/${k.name}` : `${k.kind} ${k.name}`);

/** One entry of the change log. */
export interface Change {
  revision: number;
  kind: Kind;
  service?: string;
  namespace?: string;
  group?: string;
  name: string;
  version: number;
  op: 'create' | 'update' | 'delete';
  actor: string;
  /** What the writer said about itself (X-Switchyard-Actor) when the actor is an authenticated identity. */
  comment?: string;
  at: string;
  /** The resource as written (null for deletes); only when asked for. */
  object?: Resource | null;
}

/* ---- spec shapes (the wire format; DTO classes in ./dto validate them) ---- */

export type Protocol = 'http' | 'grpc' | 'tcp';
export const PROTOCOLS: Protocol[] = ['http', 'grpc', 'tcp'];

export interface Subset {
  name: string;
  labels: Labels;
}

export interface ServiceSpec {
  protocol: Protocol;
  port: number;
  connectTimeoutMs?: number;
  subsets?: Subset[];
  policies?: string[];
}

export const HEALTH_STATES = ['unknown', 'healthy', 'unhealthy', 'draining'] as const;
export type HealthState = (typeof HEALTH_STATES)[number];

export interface Locality {
  region?: string;
  zone?: string;
  subZone?: string;
}

export interface EndpointSpec {
  address: string;
  port: number;
  weight?: number;
  locality?: Locality;
  labels?: Labels;
  health?: HealthState;
  ttlSeconds?: number;
}

export interface HeaderMatch {
  name: string;
  exact?: string;
  prefix?: string;
  regex?: string;
  present?: boolean;
  invert?: boolean;
}

export interface RouteMatch {
  pathPrefix?: string;
  path?: string;
  regex?: string;
  headers?: HeaderMatch[];
}

export interface Backend {
  service: string;
  subset?: string;
  weight: number;
}

export interface RetrySettings {
  attempts: number;
  on?: string[];
  perTryTimeoutMs?: number;
  backoff?: { baseMs: number; maxMs?: number };
}

export interface RouteRule {
  /** Optional name (unique in the route), e.g. the rule a rollout adds. */
  name?: string;
  match?: RouteMatch;
  backends: Backend[];
  timeoutMs?: number;
  retry?: RetrySettings;
}

export interface RouteSpec {
  hosts: string[];
  rules: RouteRule[];
  policies?: string[];
}

export interface ListenerSpec {
  group: string;
  address: string;
  port: number;
  protocol: Protocol;
  routes: string[];
  /** Connection-manager policies (e.g. tracing, accessLog) of this listener. */
  policies?: string[];
}

/** A Policy's spec: its `type`, and the settings under a field of the same name. Types live in src/policies. */
export interface PolicySpec {
  type: string;
  [settings: string]: unknown;
}

/** One step of a rollout: exactly one of these. */
export interface RolloutStep {
  /** Percent of the managed rules' traffic to the canary subset (the stable subset gets the rest). */
  setWeight?: number;
  /** Send calls carrying this header to the canary, whatever the weights (a rule put first on each managed route). */
  setHeaderRoute?: HeaderMatch;
  /** Hold: for `seconds` (and until an analysis passes), or, with no seconds, until promoted by hand. */
  pause?: { seconds?: number };
}

/** One analysis metric: a built-in (successRate, successRateVsStable, latencyP99) or a Prometheus query. */
export interface RolloutMetric {
  name: string;
  /** successRate, or a query's value: at least this. */
  min?: number;
  /** A query's value: at most this. */
  max?: number;
  /** latencyP99: at most this many milliseconds. */
  maxMs?: number;
  /** successRateVsStable: the canary's success rate at most this many points below the stable's. */
  maxDropPoints?: number;
  /** PromQL, with {{service}}, {{stable}}, {{canary}}, {{interval}} filled in; needs a Prometheus URL. */
  query?: string;
}

export interface RolloutWebhook {
  url: string;
  timeoutMs?: number;
}

export const ROLLOUT_ACTIONS = ['promote', 'pause', 'resume', 'abort', 'retry'] as const;
export type RolloutAction = (typeof ROLLOUT_ACTIONS)[number];

/** A canary rollout of one service from its stable subset to its canary subset. */
export interface RolloutSpec {
  service: string;
  stable: string;
  canary: string;
  /** Routes whose rules this rollout manages; all routes that send to the stable subset when absent. */
  routes?: string[];
  steps: RolloutStep[];
  analysis?: {
    intervalSeconds: number;
    failureLimit: number;
    minRequests: number;
    metrics: RolloutMetric[];
    prometheus?: { url: string };
  };
  webhooks?: { preRollout?: RolloutWebhook; confirmPromotion?: RolloutWebhook; postRollout?: RolloutWebhook; rollback?: RolloutWebhook };
  /** promote (default): end at 100 % canary, the canary the new stable; keep: end at the last step's weights. */
  onSuccess?: 'promote' | 'keep';
  /** The last action asked of the controller (written by the actions API, so it is in the change log with its actor). */
  control?: { id: string; action: RolloutAction; full?: boolean };
}

export const CONFIG_FORMATS = ['yaml', 'json', 'properties', 'text'] as const;
export type ConfigFormat = (typeof CONFIG_FORMATS)[number];

/** A gray release: candidate content for the instances the target picks. */
export interface ConfigGray {
  content: string;
  target: {
    /** A label selector over the instances' labels, e.g. env=gray. */
    labels?: string;
    /** A share of instances, picked by a stable hash of the instance id (an instance in at 30 % stays in at 50 %). */
    percent?: number;
  };
}

/** Application configuration: the content every instance gets (or the gray candidate, for those it targets). */
export interface ConfigSpec {
  format: ConfigFormat;
  content: string;
  gray?: ConfigGray;
}

/** A config's `status.revisions`: the versions at which what instances get last changed. */
export interface ConfigRevisions {
  /** What every instance outside the gray target is on. */
  content: number;
  /** What the gray target is on, while a gray release runs. */
  gray?: number;
}

/** switchyard.v1.ConfigUpdate as plain data: one config as an instance should apply it (server and client library alike). */
export interface ConfigUpdateMessage {
  namespace: string;
  group: string;
  name: string;
  /** The config version in which this content was written. */
  revision: number;
  format: string;
  content: string;
  /** The instance gets the gray release's candidate. */
  gray: boolean;
  /** The config is gone: drop it. */
  deleted: boolean;
  /** Only on the marker that ends the initial state of a watch. */
  synced?: boolean;
}
