import { ValidationFailed } from '../common/errors.js';
import { type Kind, KINDS, type Resource, type ResourceInput, type ResourceKey, scopeFields, scopeOf } from '../model/resources.js';
import type { WriteTx } from './store/registry-store.js';

/** What to roll back: the whole registry, or the resources selected by kind and/or name. */
export interface RollbackRequest {
  /** The store revision whose state to restore. */
  toRevision: number;
  /** Only resources of these kinds. */
  kinds?: Kind[];
  /**
   * Only resources of these names: a bare name, or the qualified one
   * (`service/name` for endpoints, `namespace/group/name` for configs).
   */
  names?: string[];
  dryRun?: boolean;
}

/** What a rollback does (or, in a dry run, would do) to one resource. */
export type RollbackAction = 'restored' | 'recreated' | 'deleted' | 'unchanged';

/** One resource in a rollback's answer. */
export interface RollbackItem {
  kind: Kind;
  name: string;
  service?: string;
  namespace?: string;
  group?: string;
  result: RollbackAction;
  /** Its version before the rollback (absent when it did not exist). */
  fromVersion?: number;
  /** Its version after the rollback (absent when deleted). */
  version?: number;
}

/** The answer to a rollback. */
export interface RollbackResult {
  dryRun: boolean;
  toRevision: number;
  /** The store revision after the rollback (the head, unchanged by a dry run or a rollback that changed nothing). */
  revision: number;
  /** One entry per resource changed after toRevision (and selected), in the order the rollback wrote them. */
  results: RollbackItem[];
}

/** The resources a rollback writes, for a caller that previews them (the xDS preview). */
export interface RollbackCandidate {
  upserts: Resource[];
  deletes: ResourceKey[];
}

/** One step of a rollback: a resource, and what it was at the revision (undefined: it did not exist). */
export interface PlannedStep {
  key: ResourceKey;
  target?: ResourceInput;
}

/** The qualified name a `names` selection may use. */
const qualifiedName = (k: ResourceKey) => (k.scope ? `${k.scope}/${k.name}` : k.name);

/** A field prefix naming a resource in violations, e.g. `resources[Route/echo]`. */
export const fieldOf = (k: ResourceKey) => `resources[${k.kind}/${qualifiedName(k)}]`;

/**
 * Checks a request beyond its DTO: the revision must not be in the future.
 * (The DTO checks types; the gRPC handler reuses this after its own mapping.)
 */
export function checkRollbackRequest(req: RollbackRequest, head: number): void {
  if (!Number.isSafeInteger(req.toRevision) || req.toRevision < 0) throw new ValidationFailed([{ field: 'toRevision', message: 'must be an integer >= 0' }]);
  if (req.toRevision > head) throw new ValidationFailed([{ field: 'toRevision', message: `must be <= the current store revision (${head})` }]);
  req.kinds?.forEach((k, i) => {
    if (!(KINDS as readonly string[]).includes(k)) throw new ValidationFailed([{ field: `kinds[${i}]`, message: `must be one of: ${KINDS.join(', ')}` }]);
  });
}

/**
 * Reads, inside the rollback's transaction (so under the writers' lock), every
 * selected resource changed after `toRevision`, with its last state at or
 * before the revision. Steps come back in write order:
 * deletions first, dependents before what they depend on (Rollout, Listener,
 * Route, Endpoint, Service, Policy, Config), then restorations, dependencies
 * first (the reverse), so every intermediate reference points at something.
 */
export async function planRollback(tx: WriteTx, req: RollbackRequest): Promise<PlannedStep[]> {
  const kinds = req.kinds?.length ? new Set(req.kinds) : undefined;
  const names = req.names?.length ? new Set(req.names) : undefined;
  const keys = (await tx.keysChangedAfter(req.toRevision)).filter((k) => (!kinds || kinds.has(k.kind)) && (!names || names.has(k.name) || names.has(qualifiedName(k))));
  const steps: PlannedStep[] = [];
  for (const key of keys) {
    const [before] = await tx.history(key, { atOrBefore: req.toRevision, limit: 1 });
    const target = before?.object ? inputOf(before.object) : undefined;
    steps.push({ key, target });
  }
  const rank = (s: PlannedStep) => KINDS.indexOf(s.key.kind);
  const deletes = steps.filter((s) => !s.target).sort((a, b) => rank(b) - rank(a));
  const restores = steps.filter((s) => s.target).sort((a, b) => rank(a) - rank(b));
  return [...deletes, ...restores];
}

/** The user-written part of a stored resource: what a rollback writes back. */
function inputOf(r: Resource): ResourceInput {
  return { kind: r.kind, name: r.name, ...scopeFields(r.kind, scopeOf(r)), labels: r.labels ?? {}, spec: r.spec };
}

/** The identity fields of a key, for a result entry. */
export const itemOf = (k: ResourceKey, result: RollbackAction, from?: number, to?: number): RollbackItem => ({
  kind: k.kind,
  name: k.name,
  ...scopeFields(k.kind, k.scope),
  result,
  ...(from !== undefined ? { fromVersion: from } : {}),
  ...(to !== undefined ? { version: to } : {}),
});
