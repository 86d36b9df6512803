import { randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { AlreadyExists, Conflict, type FieldViolation, NotFound, PreconditionFailed, ValidationFailed } from '../common/errors.js';
import { policyKind } from '../policies/index.js';
import { parseLabelSelector } from './label-selector.js';
import { type Change, type ConfigRevisions, type ConfigSpec, describeKey, type Kind, KINDS, keyOf, scopeFields, type PolicySpec, type Resource, type ResourceInput, type ResourceKey, type RolloutSpec, type RouteSpec, type ServiceSpec } from '../model/resources.js';
import { ACTIVE_PHASES, type RolloutState } from '../model/rollout.js';
import { outgoingRefs, referrerQueries, withoutRefs } from './references.js';
import { RegistryEvents } from './registry-events.js';
import { checkRollbackRequest, fieldOf, itemOf, planRollback, type RollbackCandidate, type RollbackItem, type RollbackRequest, type RollbackResult } from './rollback.js';
import { REGISTRY_STORE, type RegistryStore, type WriteTx } from './store/registry-store.js';
import { parseResource, type ParsedResource } from './validation.js';
import { stableJson } from '../common/json.js';

/** Who is writing and under which preconditions. */
export interface WriteContext {
  actor: string;
  /** Recorded next to the actor in the change log (a self-declared name, when the actor is authenticated). */
  comment?: string;
  /** Raw If-Match header value. */
  ifMatch?: string;
}

export interface ListQuery {
  labelSelector?: string;
  limit?: number;
  pageToken?: string;
}

export interface ResourceList {
  items: Resource[];
  nextPageToken?: string;
}

/** A resource named in a result: what was created, updated, deleted. */
export interface ResourceRef {
  kind: Kind;
  name: string;
  service?: string;
  namespace?: string;
  group?: string;
  version?: number;
}

export interface DeleteResult {
  deleted: ResourceRef[];
  updated: ResourceRef[];
}

export interface ApplyResult {
  dryRun: boolean;
  results: (ResourceRef & { result: 'created' | 'updated' | 'unchanged' })[];
}

export interface ChangesResult {
  /** Current store revision (the head). */
  revision: number;
  /** Pass this as `since` to read on: the last revision returned, or the head when nothing was. */
  nextSince: number;
  changes: Change[];
}

const refOf = (r: Resource): ResourceRef => ({
  kind: r.kind,
  name: r.name,
  ...(r.service !== undefined ? { service: r.service } : {}),
  ...(r.namespace !== undefined ? { namespace: r.namespace, group: r.group } : {}),
  version: r.version,
});

/**
 * The registry's application service: every rule about resources lives here
 * and is shared by REST, gRPC and apply.
 */
@Injectable()
export class RegistryService {
  constructor(
    @Inject(REGISTRY_STORE) private readonly store: RegistryStore,
    private readonly events: RegistryEvents,
  ) {}

  /** Whether a heartbeat endpoint (coordination, not this store) holds a name; set by EphemeralEndpoints. */
  private heartbeatHeld: (service: string, name: string) => boolean = () => false;

  /**
   * Without this, a create or an apply of an Endpoint named like a heartbeat
   * endpoint was accepted: two endpoints of one name, the read showing the
   * durable one and every write refused as a heartbeat endpoint (REST fuzz,
   * seed 304).
   */
  holdHeartbeatNames(held: (service: string, name: string) => boolean): void {
    this.heartbeatHeld = held;
  }

  private refuseHeartbeatName(input: ResourceInput, prefix = ''): void {
    if (input.kind === 'Endpoint' && input.name && this.heartbeatHeld(input.service!, input.name))
      throw new AlreadyExists(`${prefix}Endpoint ${input.service}/${input.name} already exists as a heartbeat endpoint: delete it first, or register it again to change it`);
  }

  /** Runs a write; once it commits, announces what it changed (a write that changed nothing announces nothing). */
  private write<T>(ctx: WriteContext, fn: (tx: WriteTx) => Promise<T>, opts?: { dryRun?: boolean }): Promise<T> {
    return this.store.write(ctx.actor, fn, { ...opts, comment: ctx.comment, committed: (c) => c.changes.length && this.events.committed(c) });
  }

  async get(key: ResourceKey): Promise<Resource> {
    const r = await this.store.get(key);
    if (!r) throw new NotFound(`${describeKey(key)} not found`);
    return r;
  }

  async list(kind: Kind, q: ListQuery, service?: string): Promise<ResourceList> {
    const selector = parseLabelSelector(q.labelSelector);
    if (service !== undefined) await this.get({ kind: 'Service', scope: '', name: service });
    const after = q.pageToken ? decodePageToken(q.pageToken) : undefined;
    const page = await this.store.list(kind, kind === 'Endpoint' ? service : '', { selector, limit: q.limit ?? 100, after });
    return { items: page.items, ...(page.last ? { nextPageToken: Buffer.from(page.last).toString('base64url') } : {}) };
  }

  /** Configs of a namespace (and group), or of every namespace, ordered by namespace, group, name. */
  async listConfigs(q: ListQuery & { namespace?: string; group?: string }): Promise<ResourceList> {
    const selector = parseLabelSelector(q.labelSelector);
    if (q.group !== undefined && q.namespace === undefined) throw new ValidationFailed([{ field: 'group', message: 'needs namespace' }]);
    const scopePrefix = q.namespace === undefined ? '' : q.group === undefined ? `${q.namespace}/` : `${q.namespace}/${q.group}`;
    let after: string | undefined;
    if (q.pageToken) {
      after = Buffer.from(q.pageToken, 'base64url').toString('utf8');
      if (!/^[a-z0-9-]{1,63}\/[A-Za-z0-9._-]{1,128}\u0000[A-Za-z0-9._-]{1,128}$/.test(after)) throw new ValidationFailed([{ field: 'pageToken', message: 'is not a token this server issued' }]);
    }
    // One group is one scope; a namespace is every scope under `ns/`.
    const page =
      q.group !== undefined
        ? await this.store.list('Config', scopePrefix, { selector, limit: q.limit ?? 100, after: after?.slice(after.indexOf('\u0000') + 1) })
        : await this.store.list('Config', undefined, { selector, limit: q.limit ?? 100, after, scopePrefix });
    const last = page.last && q.group !== undefined ? `${scopePrefix}\u0000${page.last}` : page.last;
    return { items: page.items, ...(last ? { nextPageToken: Buffer.from(last).toString('base64url') } : {}) };
  }

  /** Creates one resource; 409 when it exists. Endpoints without a name get a generated one. */
  async create(kind: Kind, body: unknown, ctx: WriteContext & { service?: string; namespace?: string; group?: string }): Promise<Resource> {
    const parsed = parseResource(body, { kind, service: ctx.service, namespace: ctx.namespace, group: ctx.group });
    const input = parsed.input;
    if (kind === 'Endpoint') {
      if (!input.name) input.name = generateName(input.service!);
      this.refuseHeartbeatName(input);
      return this.createEndpoint(input, parsed.expectedVersion, ctx);
    }
    return this.write(ctx, async (tx) => {
      const key = keyOf(input);
      if (await tx.get(key)) throw new AlreadyExists(`${describeKey(key)} already exists`);
      checkPrecondition(undefined, ctx.ifMatch, parsed.expectedVersion);
      const created = await createOne(tx, input, ctx.actor);
      await this.checkIntegrity(tx, [{ input, previous: undefined, prefix: '' }]);
      return created;
    });
  }

  /**
   * Registrations are the registry's hottest write, so they are group
   * committed: concurrent ones share a transaction, each with its own
   * revision and its own answer. The rules are those of the general create
   * above, in the same order (404 for the service, 409, then the
   * precondition), checked in the batch's transaction under the write lock.
   * An endpoint references nothing but its service (outgoingRefs has no
   * Endpoint case), so that is all checkIntegrity would look at.
   */
  private createEndpoint(input: ResourceInput, expectedVersion: number | undefined, ctx: WriteContext): Promise<Resource> {
    const serviceKey: ResourceKey = { kind: 'Service', scope: '', name: input.service! };
    const key = keyOf(input);
    return this.store.createGrouped({
      actor: ctx.actor,
      comment: ctx.comment,
      input,
      status: derivedStatus(input, undefined, ctx.actor),
      reads: [serviceKey, key],
      check: (get) => {
        if (!get(serviceKey)) throw new NotFound(`Service ${input.service} not found`);
        if (get(key)) throw new AlreadyExists(`${describeKey(key)} already exists`);
        checkPrecondition(undefined, ctx.ifMatch, expectedVersion);
      },
      committed: (c) => this.events.committed(c),
    });
  }

  /** Replaces spec and labels of an existing resource (PUT). */
  async replace(key: ResourceKey, body: unknown, ctx: WriteContext): Promise<Resource> {
    const parsed = parseResource(body, { kind: key.kind, ...scopeFields(key.kind, key.scope), name: key.name });
    await this.precheck(key, ctx.ifMatch, parsed.expectedVersion);
    return this.write(ctx, (tx) => this.updateOne(tx, key, parsed, ctx));
  }

  /** Applies a JSON merge patch (RFC 7396) to labels and spec. */
  async patch(key: ResourceKey, patch: unknown, ctx: WriteContext): Promise<Resource> {
    if (patch === null || typeof patch !== 'object' || Array.isArray(patch))
      throw new ValidationFailed([{ field: '(body)', message: 'must be a JSON merge patch object' }]);
    const p = patch as Record<string, unknown>;
    const fixed: Record<string, string | undefined> = { kind: key.kind, name: key.name, service: undefined, namespace: undefined, group: undefined, ...scopeFields(key.kind, key.scope) };
    for (const [f, expected] of Object.entries(fixed)) {
      if (p[f] !== undefined && p[f] !== expected) throw new ValidationFailed([{ field: f, message: 'cannot be changed' }]);
    }
    await this.precheck(key, ctx.ifMatch, typeof p.version === 'number' ? p.version : undefined);
    return this.write(ctx, async (tx) => {
      const current = await tx.get(key);
      if (!current) throw new NotFound(`${describeKey(key)} not found`);
      const { version, createdAt, updatedAt, status, ...base } = current;
      const merged = mergePatch(base, p);
      const parsed = parseResource(merged, { kind: key.kind, ...scopeFields(key.kind, key.scope) });
      parsed.expectedVersion = typeof p.version === 'number' ? p.version : undefined;
      return this.updateOne(tx, key, parsed, ctx, current);
    });
  }

  /**
   * Deletes a resource. Referenced resources are refused with 409 unless
   * `cascade`, which removes the references (and routes left with no rules).
   * A service's endpoints always go with it.
   */
  async remove(key: ResourceKey, ctx: WriteContext & { cascade?: boolean }): Promise<DeleteResult> {
    return this.write(ctx, async (tx) => {
      const current = await tx.get(key);
      if (!current) throw new NotFound(`${describeKey(key)} not found`);
      checkPrecondition(current, ctx.ifMatch, undefined);
      await guardOwnedRoute(tx, current, null, ctx.actor);
      const result: DeleteResult = { deleted: [], updated: [] };
      await this.deleteWithReferrers(tx, current, !!ctx.cascade, result);
      const gone = new Set(result.deleted.map((r) => `${r.kind}/${r.service ?? ''}/${r.name}`));
      const latest = new Map(result.updated.map((r) => [`${r.kind}/${r.name}`, r]));
      result.updated = [...latest.values()].filter((r) => !gone.has(`${r.kind}/${r.service ?? ''}/${r.name}`));
      return result;
    });
  }

  /**
   * Creates or updates every document in one transaction: all or nothing.
   * Documents are written in dependency order, so a batch may reference itself.
   */
  async apply(docs: unknown[], ctx: WriteContext & { dryRun?: boolean }): Promise<ApplyResult> {
    if (!Array.isArray(docs) || docs.length === 0)
      throw new ValidationFailed([{ field: 'resources', message: 'must contain at least one resource' }]);
    if (docs.length > 10000) throw new ValidationFailed([{ field: 'resources', message: 'must contain at most 10000 resources' }]);
    const parsed: (ParsedResource & { index: number })[] = [];
    const violations: FieldViolation[] = [];
    const seen = new Map<string, number>();
    docs.forEach((doc, index) => {
      try {
        const p = parseResource(doc, { prefix: `resources[${index}]` });
        const k = keyOf(p.input);
        const id = `${k.kind}/${k.scope}/${k.name}`;
        if (!p.input.name) violations.push({ field: `resources[${index}].name`, message: 'is required' });
        else if (seen.has(id)) violations.push({ field: `resources[${index}]`, message: `duplicates resources[${seen.get(id)}] (${describeKey(k)})` });
        seen.set(id, index);
        parsed.push({ ...p, index });
      } catch (e) {
        if (e instanceof ValidationFailed) violations.push(...e.violations);
        else throw e;
      }
    });
    if (violations.length) throw new ValidationFailed(violations);
    // Before anything is written: the whole apply is refused, nothing half-applied.
    for (const p of parsed) this.refuseHeartbeatName(p.input, `resources[${p.index}]: `);
    parsed.sort((a, b) => KINDS.indexOf(a.input.kind) - KINDS.indexOf(b.input.kind) || a.index - b.index);

    return this.write(
      ctx,
      async (tx) => {
        const results: (ApplyResult['results'][number] & { index: number })[] = [];
        const written: { input: ResourceInput; previous?: Resource; prefix: string }[] = [];
        for (const p of parsed) {
          const prefix = `resources[${p.index}]`;
          const key = keyOf(p.input);
          const current = await tx.get(key);
          if (p.expectedVersion !== undefined && current?.version !== p.expectedVersion)
            throw new PreconditionFailed(`${prefix}: ${describeKey(key)} is at version ${current?.version ?? 'none (absent)'}, not ${p.expectedVersion}`);
          if (current && sameContent(current, p.input)) {
            results.push({ ...refOf(current), result: 'unchanged', index: p.index });
            continue;
          }
          if (current) await guardOwnedRoute(tx, current, p.input, ctx.actor, prefix);
          const res = current ? await tx.update(current, p.input, derivedStatus(p.input, current, ctx.actor)) : await createOne(tx, p.input, ctx.actor);
          written.push({ input: p.input, previous: current, prefix });
          results.push({ ...refOf(res), result: current ? 'updated' : 'created', index: p.index });
        }
        await this.checkIntegrity(tx, written);
        results.sort((a, b) => a.index - b.index);
        return { dryRun: !!ctx.dryRun, results: results.map(({ index, ...r }) => r) };
      },
      { dryRun: ctx.dryRun },
    );
  }

  /** Change log entries after `since`, oldest first; with `withObjects`, the resource each wrote. */
  async changes(since: number, limit: number, withObjects = false): Promise<ChangesResult> {
    const out = await this.store.changes(since, limit, { withObjects });
    return { revision: out.revision, nextSince: out.changes.length ? out.changes[out.changes.length - 1].revision : Math.max(since, out.revision), changes: out.changes };
  }

  /**
   * Puts the registry (or the selected resources) back as it was at store
   * revision `toRevision`, in one transaction recorded as new changes by the
   * actor: what changed since is restored, what did not exist then is deleted
   * (a Service with its endpoints), what was deleted since is recreated, its
   * versions going on from its history. The result is checked like any other
   * write: every reference must resolve, nothing deleted may still be
   * referenced by what the rollback leaves, a running rollout still owns its
   * routes. `candidate` receives what would be written (the xDS preview).
   */
  async rollback(req: RollbackRequest, ctx: WriteContext, opts: { candidate?: (c: RollbackCandidate) => void } = {}): Promise<RollbackResult> {
    return this.write(
      ctx,
      async (tx) => {
        checkRollbackRequest(req, tx.startRevision);
        const results: RollbackItem[] = [];
        const written: { input: ResourceInput; previous?: Resource; prefix: string }[] = [];
        const deleted: Resource[] = [];
        const upserts: Resource[] = [];
        let writes = 0;
        const remove = async (r: Resource) => {
          await tx.remove(r);
          writes++;
          deleted.push(r);
          results.push(itemOf(keyOf(r), 'deleted', r.version));
        };
        for (const step of await planRollback(tx, req)) {
          const prefix = fieldOf(step.key);
          // Read again: an earlier step (a Service's deletion) may have taken it with it.
          const current = await tx.get(step.key);
          const target = step.target;
          if (!target) {
            if (!current) continue; // created and deleted again after the revision: nothing to do
            await guardOwnedRoute(tx, current, null, ctx.actor, prefix);
            if (current.kind === 'Service') for (const ep of await tx.listScope('Endpoint', current.name)) await remove(ep);
            await remove(current);
            continue;
          }
          if (current && sameContent(current, target)) {
            results.push(itemOf(step.key, 'unchanged', current.version, current.version));
            continue;
          }
          let res: Resource;
          if (current && !(current.kind === 'Policy' && (current.spec as PolicySpec).type !== (target.spec as PolicySpec).type)) {
            await guardOwnedRoute(tx, current, target, ctx.actor, prefix);
            res = await tx.update(current, target, derivedStatus(target, current, ctx.actor));
            writes++;
          } else {
            // A policy's type cannot change in place: it was deleted and created again since, so do the same.
            if (current) {
              await tx.remove(current);
              writes++;
            }
            res = await recreate(tx, target, ctx.actor);
            writes++;
          }
          upserts.push(res);
          written.push({ input: target, previous: current, prefix });
          results.push(itemOf(step.key, current ? 'restored' : 'recreated', current?.version, res.version));
        }
        await this.checkIntegrity(tx, written);
        await checkDeletions(tx, deleted, req.toRevision);
        opts.candidate?.({ upserts, deletes: deleted.map(keyOf) });
        return { dryRun: !!req.dryRun, toRevision: req.toRevision, revision: tx.startRevision + (req.dryRun ? 0 : writes), results };
      },
      { dryRun: req.dryRun },
    );
  }

  private async updateOne(tx: WriteTx, key: ResourceKey, parsed: ParsedResource, ctx: WriteContext, current?: Resource): Promise<Resource> {
    current ??= await tx.get(key);
    if (!current) throw new NotFound(`${describeKey(key)} not found`);
    checkPrecondition(current, ctx.ifMatch, parsed.expectedVersion);
    if (sameContent(current, parsed.input)) return current;
    if (key.kind === 'Policy' && (current.spec as PolicySpec).type !== (parsed.input.spec as PolicySpec).type)
      throw new ValidationFailed([{ field: 'spec.type', message: `cannot change from ${(current.spec as PolicySpec).type}; delete and recreate the policy` }]);
    await guardOwnedRoute(tx, current, parsed.input, ctx.actor);
    const updated = await tx.update(current, parsed.input, derivedStatus(parsed.input, current, ctx.actor));
    await this.checkIntegrity(tx, [{ input: parsed.input, previous: current, prefix: '' }]);
    return updated;
  }

  /**
   * A conditional write whose condition already fails is refused before it
   * queues for the write lock: under contention most conditional writes lose,
   * and each would otherwise wait behind every write ahead of it only to be
   * told 412. The read sees committed state, so a mismatch it finds held at
   * an instant during the request: a linearizable answer. A match proves
   * nothing: the write checks again under the lock.
   */
  private async precheck(key: ResourceKey, ifMatch: string | undefined, bodyVersion: number | undefined): Promise<void> {
    if ((ifMatch === undefined || ifMatch.trim() === '*') && bodyVersion === undefined) return;
    const current = await this.store.get(key);
    // A missing resource is left to the write, which answers 404 as before.
    if (current) checkPrecondition(current, ifMatch, bodyVersion);
  }

  /**
   * Checks, after all writes of a transaction, that what was written only
   * references existing resources and that no subset still in use was removed.
   */
  private async checkIntegrity(tx: WriteTx, written: { input: ResourceInput; previous?: Resource; prefix: string }[], known: Resource[] = []): Promise<void> {
    const violations: FieldViolation[] = [];
    const at = (prefix: string, f: string) => (prefix ? `${prefix}.${f}` : f);
    // `known`: unscoped resources this transaction has already read (and not written since).
    const cache = new Map<string, Resource | null>(known.map((r) => [`${r.kind}/${r.name}`, r]));
    const lookup = async (kind: Kind, name: string) => {
      const id = `${kind}/${name}`;
      if (!cache.has(id)) cache.set(id, (await tx.getMany(kind, [name]))[0] ?? null);
      return cache.get(id)!;
    };
    for (const w of written) {
      if (w.input.kind === 'Endpoint' && !(await lookup('Service', w.input.service!)))
        violations.push({ field: at(w.prefix, 'service'), message: `Service ${w.input.service} does not exist` });
      const byType = new Map<string, { name: string; field: string }>();
      for (const ref of outgoingRefs(w.input)) {
        if (ref.kind === 'Policy') {
          const type = ((await lookup('Policy', ref.name))?.spec as PolicySpec | undefined)?.type;
          const first = type ? byType.get(type) : undefined;
          if (first) violations.push({ field: at(w.prefix, ref.field), message: `Policy ${ref.name} and Policy ${first.name} (${first.field}) are both ${type} policies: attach one ${type} policy per ${w.input.kind}` });
          else if (type) byType.set(type, { name: ref.name, field: at(w.prefix, ref.field) });
        }
        const target = await lookup(ref.kind, ref.name);
        const field = at(w.prefix, ref.field);
        if (!target) {
          violations.push({ field, message: `${ref.kind} ${ref.name} does not exist` });
        } else if (ref.subset !== undefined && !((target.spec as unknown as ServiceSpec).subsets ?? []).some((s) => s.name === ref.subset)) {
          violations.push({ field: at(w.prefix, ref.subsetField ?? ref.field), message: `Service ${ref.name} has no subset ${ref.subset}` });
        } else if (ref.kind === 'Policy') {
          const type = (target.spec as PolicySpec).type;
          const kind = w.input.kind as 'Service' | 'Route' | 'Listener';
          if (!policyKind(type)?.attachTo.includes(kind))
            violations.push({ field, message: `Policy ${ref.name} has type ${type}, which cannot be attached to a ${kind}` });
        }
      }
    }
    // Within one batch the later of two routes sharing a host is the one refused.
    const routeAt = new Map(written.flatMap((w, i) => (w.input.kind === 'Route' ? [[w.input.name, i] as const] : [])));
    for (const [at_, w] of written.entries()) {
      if (w.input.kind !== 'Route') continue;
      for (const [i, host] of (w.input.spec as unknown as RouteSpec).hosts.entries()) {
        const other = (await tx.findContaining('Route', { hosts: [host] })).find((r) => r.name !== w.input.name && (routeAt.get(r.name) ?? -1) < at_);
        if (other)
          throw new Conflict(`${w.prefix ? `${w.prefix}: ` : ''}host ${host} (${at(w.prefix, `spec.hosts[${i}]`)}) is already served by Route ${other.name}`, {
            field: at(w.prefix, `spec.hosts[${i}]`),
            conflictsWith: refOf(other),
          });
      }
    }
    for (const w of written) {
      if (w.input.kind !== 'Rollout') continue;
      const r = w.input.spec as unknown as RolloutSpec;
      const listed = r.routes ?? [];
      const routes = listed.length ? await tx.getMany('Route', listed) : await tx.findContaining('Route', { rules: [{ backends: [{ service: r.service, subset: r.stable }] }] });
      for (const route of routes)
        if (!sendsTo(route, r.service, r.stable))
          violations.push({ field: at(w.prefix, `spec.routes[${listed.indexOf(route.name)}]`), message: `Route ${route.name} has no rule that sends to Service ${r.service} subset ${r.stable}` });
      if (!listed.length && !routes.length) violations.push({ field: at(w.prefix, 'spec.routes'), message: `no Route sends to Service ${r.service} subset ${r.stable}: list the routes, or create one first` });
    }
    if (violations.length) throw new ValidationFailed(violations);

    for (const w of written) {
      if (w.input.kind !== 'Service' || !w.previous) continue;
      const now = new Set(((w.input.spec as unknown as ServiceSpec).subsets ?? []).map((s) => s.name));
      for (const s of (w.previous.spec as unknown as ServiceSpec).subsets ?? []) {
        if (now.has(s.name)) continue;
        const users: Resource[] = [];
        for (const q of referrerQueries('Service', w.input.name, s.name)) users.push(...(await tx.findContaining(q.kind, q.fragment)));
        if (users.length)
          throw new Conflict(`subset ${s.name} of Service ${w.input.name} is used by ${users.map((u) => `${u.kind} ${u.name}`).join(', ')}`, {
            referrers: users.map(refOf),
          });
      }
    }
  }

  private async deleteWithReferrers(tx: WriteTx, target: Resource, cascade: boolean, result: DeleteResult): Promise<void> {
    const referrers: Resource[] = [];
    for (const q of referrerQueries(target.kind, target.name)) referrers.push(...(await tx.findContaining(q.kind, q.fragment)));
    if (referrers.length && !cascade) {
      throw new Conflict(
        `${describeKey(keyOf(target))} is referenced by ${referrers.map((r) => `${r.kind} ${r.name}`).join(', ')}; remove those references first or delete with ?cascade=true`,
        { referrers: referrers.map(refOf) },
      );
    }
    for (const ref of referrers) {
      const fresh = (await tx.get(keyOf(ref)))!;
      const spec = withoutRefs(fresh, target);
      if (spec === null) await this.deleteWithReferrers(tx, fresh, true, result);
      else result.updated.push(refOf(await tx.update(fresh, { ...fresh, spec })));
    }
    if (target.kind === 'Service') {
      for (const ep of await tx.listScope('Endpoint', target.name)) {
        await tx.remove(ep);
        result.deleted.push(refOf(ep));
      }
    }
    await tx.remove(target);
    result.deleted.push(refOf(target));
  }
}

/** Whether a route has a rule sending to `service`'s `subset`. */
const sendsTo = (route: Resource | ResourceInput, service: string, subset: string) =>
  (route.spec as unknown as RouteSpec).rules.some((rule) => rule.backends.some((b) => b.service === service && b.subset === subset));

/**
 * While a rollout runs, it owns the rules of its routes: a write by anyone
 * else that changes them (or deletes the route) is refused with 409, so a
 * manual weight change cannot fight the controller.
 */
async function guardOwnedRoute(tx: WriteTx, current: Resource, next: ResourceInput | null, actor: string, prefix = ''): Promise<void> {
  if (current.kind !== 'Route' || actor.startsWith('rollout/')) return;
  if (next && stableJson((next.spec as unknown as RouteSpec).rules) === stableJson((current.spec as unknown as RouteSpec).rules)) return;
  const services = new Set((current.spec as unknown as RouteSpec).rules.flatMap((rule) => rule.backends.map((b) => b.service)));
  for (const service of services) {
    for (const ro of await tx.findContaining('Rollout', { service })) {
      const spec = ro.spec as unknown as RolloutSpec;
      const phase = (ro.status.rollout as RolloutState | undefined)?.phase ?? 'Pending';
      if (!ACTIVE_PHASES.includes(phase)) continue;
      const owns = spec.routes?.length ? spec.routes.includes(current.name) : sendsTo(current, spec.service, spec.stable);
      if (owns)
        throw new Conflict(`${prefix ? `${prefix}: ` : ''}Route ${current.name} is managed by Rollout ${ro.name} (phase ${phase}): its rules change only through the rollout; abort it or wait for it to finish`, {
          rollout: ro.name,
          phase,
        });
    }
  }
}

/**
 * After a rollback's writes: nothing it deleted may still be referred to by
 * what it left (a resource not selected, or one it restored), or the registry
 * would hold a dangling reference.
 */
async function checkDeletions(tx: WriteTx, deleted: Resource[], toRevision: number): Promise<void> {
  const violations: FieldViolation[] = [];
  for (const d of deleted) {
    for (const q of referrerQueries(d.kind, d.name)) {
      for (const r of await tx.findContaining(q.kind, q.fragment)) {
        const via = outgoingRefs(r).find((ref) => ref.kind === d.kind && ref.name === d.name)?.field;
        violations.push({ field: fieldOf(keyOf(d)), message: `did not exist at revision ${toRevision}, so the rollback deletes it, but ${r.kind} ${r.name}${via ? ` (${via})` : ''} still refers to it: roll that back too, or change it first` });
      }
    }
  }
  if (violations.length) throw new ValidationFailed(violations);
}

/** Creates a resource again with its versions going on from its history, so a version number never names two states. */
async function recreate(tx: WriteTx, input: ResourceInput, actor: string): Promise<Resource> {
  const version = ((await tx.history(keyOf(input), { limit: 1 }))[0]?.version ?? 0) + 1;
  const status = input.kind === 'Config' ? configRevisions(input, undefined, version) : healthStatus(input, undefined, actor);
  return tx.create(input, status, { version });
}

/** Parses If-Match (`"7"`, `"6", "7"` or `*`) and compares it, and any body version, with `current`. */
export function checkPrecondition(current: Resource | undefined, ifMatch: string | undefined, bodyVersion: number | undefined): void {
  if (ifMatch !== undefined) {
    const v = ifMatch.trim();
    if (v !== '*') {
      const tags = v.split(',').map((t) => t.trim());
      const versions = tags.map((t) => /^"(\d+)"$/.exec(t)?.[1]);
      if (versions.some((x) => x === undefined))
        throw new ValidationFailed([{ field: 'If-Match', message: 'must be * or a list of quoted versions, e.g. "7"' }]);
      if (!current || !versions.includes(String(current.version)))
        throw new PreconditionFailed(
          current ? `version mismatch: ${describeKey(keyOf(current))} is at version ${current.version}, If-Match was ${v}` : `If-Match ${v}: resource does not exist`,
          current ? { currentVersion: current.version } : undefined,
        );
    } else if (!current) {
      throw new PreconditionFailed('If-Match *: resource does not exist');
    }
  }
  if (bodyVersion !== undefined && current && current.version !== bodyVersion)
    throw new PreconditionFailed(`version mismatch: ${describeKey(keyOf(current))} is at version ${current.version}, the body says ${bodyVersion}`, {
      currentVersion: current.version,
    });
}

/**
 * Creates a resource with its derived status. A config's versions go on from
 * its history, so a deleted and recreated config never reuses a revision
 * number a watcher may still hold.
 */
async function createOne(tx: WriteTx, input: ResourceInput, actor: string): Promise<Resource> {
  if (input.kind !== 'Config') return tx.create(input, derivedStatus(input, undefined, actor));
  const last = (await tx.history(keyOf(input), { limit: 1 }))[0]?.version ?? 0;
  return tx.create(input, configRevisions(input, undefined, last + 1), { version: last + 1 });
}

/** The status a write derives from the spec: an endpoint's health, a config's revisions. */
function derivedStatus(input: ResourceInput, current: Resource | undefined, actor: string): Record<string, unknown> | undefined {
  if (input.kind === 'Config') return configRevisions(input, current, (current?.version ?? 0) + 1);
  return healthStatus(input, current, actor);
}

/**
 * The revision an instance is on depends on what it gets: `content` is the
 * version at which the current content (or format) last changed, `gray` the
 * version at which the candidate did. A write that touches neither, such as
 * a label change or a gray target step, leaves instances where they are.
 */
function configRevisions(input: ResourceInput, current: Resource | undefined, version: number): Record<string, unknown> {
  const next = input.spec as unknown as ConfigSpec;
  const prev = current?.spec as unknown as ConfigSpec | undefined;
  const before = current?.status.revisions as ConfigRevisions | undefined;
  const content = prev && before && prev.format === next.format && prev.content === next.content ? before.content : version;
  const gray = !next.gray ? undefined : prev?.gray && before?.gray && prev.format === next.format && prev.gray.content === next.gray.content ? before.gray : version;
  return { revisions: { content, ...(gray !== undefined ? { gray } : {}) } satisfies ConfigRevisions };
}

/**
 * An endpoint's effective health and who set it, in `status.health`. The API
 * sets it through `spec.health`; health checks and heartbeats will write other sources.
 */
function healthStatus(input: ResourceInput, current: Resource | undefined, actor: string): Record<string, unknown> | undefined {
  if (input.kind !== 'Endpoint') return undefined;
  const state = (input.spec as { health?: string }).health ?? 'unknown';
  const before = current ? ((current.spec as { health?: string }).health ?? 'unknown') : undefined;
  if (before === state) return undefined;
  return { health: { state, source: 'api', setBy: actor, since: new Date().toISOString() } };
}

function sameContent(current: Resource, next: ResourceInput): boolean {
  return stableJson(current.labels) === stableJson(next.labels) && stableJson(current.spec) === stableJson(next.spec);
}

/** RFC 7396 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as object) } : {};
  for (const [k, v] of Object.entries(patch)) {
    const own = Object.prototype.hasOwnProperty.call(out, k);
    if (v === null) delete out[k];
    // Defined, not assigned, and read only when own: a `__proto__` or `constructor` label is a key like any other.
    else Object.defineProperty(out, k, { value: mergePatch(own ? out[k] : undefined, v), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function generateName(service: string): string {
  return `${service.slice(0, 54).replace(/-+$/, '')}-${randomBytes(4).toString('hex')}`;
}

function decodePageToken(token: string): string {
  const name = Buffer.from(token, 'base64url').toString('utf8');
  if (!/^[a-z0-9-]{1,63}$/.test(name)) throw new ValidationFailed([{ field: 'pageToken', message: 'is not a token this server issued' }]);
  return name;
}
