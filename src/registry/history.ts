import { Inject, Injectable } from '@nestjs/common';
import { createTwoFilesPatch } from 'diff';
import YAML from 'yaml';
import { NotFound, ValidationFailed } from '../common/errors.js';
import { jsonPatch, type JsonPatchOp } from '../common/json-patch.js';
import { type Change, describeKey, type Resource, type ResourceKey } from '../model/resources.js';
import { REGISTRY_STORE, type RegistryStore } from './store/registry-store.js';

/** One revision of one resource, as the history lists it. */
export interface RevisionEntry {
  /** The resource version the change wrote (for a delete: one past the last). */
  version: number;
  /** The store revision of the change (unique across the registry, in commit order). */
  revision: number;
  op: Change['op'];
  actor: string;
  at: string;
}

/** A page of a resource's history, newest first. */
export interface RevisionPage {
  items: RevisionEntry[];
  /** Pass as `before` for the next (older) page; absent on the last page. */
  nextBefore?: number;
}

/** What changed between two versions of a resource. */
export interface RevisionDiff {
  from: number;
  to: number;
  /** RFC 6902 operations turning the `from` document into the `to` document. */
  patch: JsonPatchOp[];
  /** Unified diff of the two documents as YAML. */
  diff: string;
}

/** A resource as a user writes it: server-owned fields (version, timestamps, status) left out. */
export function userDocument(r: Resource): Record<string, unknown> {
  const { version, createdAt, updatedAt, status, ...doc } = r;
  return doc;
}

/** Parses `v1..v2` (two versions, v2 may be empty for the current one). */
export function parseDiffRange(s: string): { from: number; to?: number } {
  const m = /^(\d{1,9})\.\.(\d{1,9})?$/.exec(s);
  if (!m || Number(m[1]) < 1 || (m[2] !== undefined && Number(m[2]) < 1))
    throw new ValidationFailed([{ field: 'diff', message: 'must be FROM..TO, two versions >= 1 (TO empty: the current version), e.g. 2..5' }]);
  return { from: Number(m[1]), ...(m[2] !== undefined ? { to: Number(m[2]) } : {}) };
}

/**
 * Per-resource history read from the change log: the revisions of one key,
 * the resource as it was at one version, and the difference between two.
 * A resource deleted and created again keeps one history; when a version
 * number repeats (a plain re-create starts again at 1), the newest entry wins.
 */
@Injectable()
export class RegistryHistory {
  constructor(@Inject(REGISTRY_STORE) private readonly store: RegistryStore) {}

  /** The history route: the list, or with `diff` the difference between two versions. */
  query(key: ResourceKey, q: { limit?: number; before?: number; diff?: string }): Promise<RevisionPage | RevisionDiff> {
    if (q.diff !== undefined) return this.diff(key, parseDiffRange(q.diff));
    return this.list(key, q);
  }

  /** The history/:version route: the version comes as path text. */
  version(key: ResourceKey, version: string): Promise<Resource> {
    if (!/^\d{1,9}$/.test(version)) throw new ValidationFailed([{ field: 'version', message: 'must be a version (an integer >= 1)' }]);
    return this.at(key, Number(version));
  }

  /** Revisions newest first; `before` is a store revision (the previous page's nextBefore). */
  async list(key: ResourceKey, q: { limit?: number; before?: number }): Promise<RevisionPage> {
    const limit = q.limit ?? 100;
    const log = await this.store.history(key, { limit: limit + 1, beforeRevision: q.before });
    if (!log.length && q.before === undefined) throw new NotFound(`${describeKey(key)} has no history`);
    const items = log.slice(0, limit).map((c) => ({ version: c.version, revision: c.revision, op: c.op, actor: c.actor, at: c.at }));
    return { items, ...(log.length > limit ? { nextBefore: items[items.length - 1].revision } : {}) };
  }

  /**
   * The resource as written at `version`; `field` names the request field in
   * errors, `noun` what a version is called there (configs say revision).
   */
  async at(key: ResourceKey, version: number, field = 'version', noun = 'version'): Promise<Resource> {
    if (!Number.isSafeInteger(version) || version < 1) throw new ValidationFailed([{ field, message: `must be a ${noun} (an integer >= 1)` }]);
    const found = await this.store.history(key, { version });
    const c = found[found.length - 1];
    if (!c) throw new NotFound(`${describeKey(key)} has no ${noun} ${version}`);
    if (!c.object) throw new ValidationFailed([{ field, message: `${noun} ${version} is the deletion of ${describeKey(key)}; it has no content` }]);
    return c.object;
  }

  /** JSON patch and unified YAML diff from `from` to `to` (default: the current resource). */
  async diff(key: ResourceKey, range: { from: number; to?: number }): Promise<RevisionDiff> {
    const a = await this.at(key, range.from, 'diff');
    let b: Resource;
    if (range.to !== undefined) b = await this.at(key, range.to, 'diff');
    else {
      const current = await this.store.get(key);
      if (!current) throw new NotFound(`${describeKey(key)} does not exist now: give both versions`);
      b = current;
    }
    const [da, db] = [userDocument(a), userDocument(b)];
    const label = `${key.kind}/${key.scope ? `${key.scope}/` : ''}${key.name}`;
    return {
      from: a.version,
      to: b.version,
      patch: jsonPatch(da, db),
      diff: createTwoFilesPatch(`${label}@${a.version}`, `${label}@${b.version}`, YAML.stringify(da), YAML.stringify(db)),
    };
  }
}
