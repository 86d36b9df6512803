import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { createTwoFilesPatch } from 'diff';
import { AlreadyExists, Conflict, NotFound, PreconditionFailed, ValidationFailed } from '../common/errors.js';
import type { ConfigGray, ConfigSpec, Resource, ResourceKey } from '../model/resources.js';
import { CONFIG_NAME, CONFIG_NAME_MESSAGE, CONFIG_NAMESPACE, CONFIG_NAMESPACE_MESSAGE } from '../registry/dto/config.dto.js';
import { type ListQuery, RegistryService, type WriteContext } from '../registry/registry.service.js';
import { REGISTRY_STORE, type RegistryStore } from '../registry/store/registry-store.js';
import { RegistryHistory } from '../registry/history.js';
import type { InstancesDto } from './dto.js';
import { InstanceBoard } from './instance-board.js';


/** One revision in a config's history. */
export interface HistoryEntry {
  revision: number;
  op: 'create' | 'update' | 'delete';
  actor: string;
  at: string;
  format?: string;
  size?: number;
  sha256?: string;
  gray?: { target: ConfigGray['target']; size: number };
}

/**
 * The config centre's write side: upsert, gray release (set, step, promote,
 * abort), rollback, history and diff. Every write goes through the registry
 * (validation, change log, change feed); a change to a config's gray release
 * is a read-modify-write guarded by the version it read, retried when another
 * write came first, so concurrent changes are never lost.
 */
@Injectable()
export class ConfigService {
  constructor(
    private readonly registry: RegistryService,
    @Inject(REGISTRY_STORE) private readonly store: RegistryStore,
    private readonly board: InstanceBoard,
    private readonly revisions: RegistryHistory,
  ) {}

  key(namespace: string, group: string, name: string): ResourceKey {
    const violations = [];
    if (!CONFIG_NAMESPACE.test(namespace)) violations.push({ field: 'namespace', message: CONFIG_NAMESPACE_MESSAGE });
    if (!CONFIG_NAME.test(group)) violations.push({ field: 'group', message: CONFIG_NAME_MESSAGE });
    if (!CONFIG_NAME.test(name)) violations.push({ field: 'name', message: CONFIG_NAME_MESSAGE });
    if (violations.length) throw new ValidationFailed(violations);
    return { kind: 'Config', scope: `${namespace}/${group}`, name };
  }

  list(q: ListQuery & { namespace?: string; group?: string }) {
    return this.registry.listConfigs(q);
  }

  get(namespace: string, group: string, name: string): Promise<Resource> {
    return this.registry.get(this.key(namespace, group, name));
  }

  create(body: unknown, ctx: WriteContext): Promise<Resource> {
    return this.registry.create('Config', body, ctx);
  }

  /** PUT: creates the config, or replaces it (If-Match honoured either way; `If-Match: *` means it must exist). */
  async put(namespace: string, group: string, name: string, body: unknown, ctx: WriteContext): Promise<Resource> {
    const key = this.key(namespace, group, name);
    for (let attempt = 0; ; attempt++) {
      const exists = await this.store.get(key);
      try {
        if (exists) return await this.registry.replace(key, body, ctx);
        if (ctx.ifMatch !== undefined) throw new PreconditionFailed(`If-Match ${ctx.ifMatch}: Config ${key.scope}/${name} does not exist`);
        return await this.registry.create('Config', { ...(body as object), name }, { ...ctx, namespace, group });
      } catch (e) {
        // Created or deleted by someone else between the read and the write: go again.
        if (attempt < 3 && ((e instanceof AlreadyExists && !exists) || (e instanceof NotFound && exists))) continue;
        throw e;
      }
    }
  }

  patch(namespace: string, group: string, name: string, body: unknown, ctx: WriteContext): Promise<Resource> {
    return this.registry.patch(this.key(namespace, group, name), body, ctx);
  }

  remove(namespace: string, group: string, name: string, ctx: WriteContext) {
    return this.registry.remove(this.key(namespace, group, name), ctx);
  }

  /** Sets (or replaces) the gray release. Stepping the percentage with the same content keeps instances on their revision. */
  setGray(namespace: string, group: string, name: string, gray: { content: string; target: object }, ctx: WriteContext): Promise<Resource> {
    // A label map target is normalized to its selector when the registry validates the write.
    return this.modify(namespace, group, name, ctx, (spec) => ({ ...spec, gray: { content: gray.content, target: { ...gray.target } as ConfigGray['target'] } }));
  }

  /** The gray candidate becomes the content for everyone. */
  promote(namespace: string, group: string, name: string, ctx: WriteContext): Promise<Resource> {
    return this.modify(namespace, group, name, ctx, (spec, cfg) => {
      if (!spec.gray) throw new Conflict(`Config ${cfg.namespace}/${cfg.group}/${cfg.name} has no gray release to promote`);
      return { format: spec.format, content: spec.gray.content };
    });
  }

  /** Drops the gray release: its instances go back to the current content. */
  abort(namespace: string, group: string, name: string, ctx: WriteContext): Promise<Resource> {
    return this.modify(namespace, group, name, ctx, (spec, cfg) => {
      if (!spec.gray) throw new Conflict(`Config ${cfg.namespace}/${cfg.group}/${cfg.name} has no gray release to abort`);
      return { format: spec.format, content: spec.content };
    });
  }

  /**
   * Restores revision `revision`'s format and content as a new revision, for
   * everyone (a running gray release is dropped). Restores a deleted config too.
   */
  async rollback(namespace: string, group: string, name: string, revision: number, ctx: WriteContext): Promise<Resource> {
    const target = await this.at(namespace, group, name, revision, 'revision');
    const spec = target.spec as unknown as ConfigSpec;
    const current = await this.store.get(this.key(namespace, group, name));
    if (!current) return this.put(namespace, group, name, { labels: target.labels, spec: { format: spec.format, content: spec.content } }, ctx);
    return this.modify(namespace, group, name, ctx, () => ({ format: spec.format, content: spec.content }));
  }

  /** Revisions, newest first. */
  async history(namespace: string, group: string, name: string, q: { limit?: number; before?: number }): Promise<{ items: HistoryEntry[]; nextBefore?: number }> {
    const key = this.key(namespace, group, name);
    const limit = q.limit ?? 100;
    const log = await this.store.history(key, { limit: limit + 1, before: q.before });
    if (!log.length && q.before === undefined) throw new NotFound(`Config ${key.scope}/${name} has no history`);
    const items = log.slice(0, limit).map((c): HistoryEntry => {
      const spec = c.object?.spec as unknown as ConfigSpec | undefined;
      return {
        revision: c.version,
        op: c.op,
        actor: c.actor,
        at: c.at,
        ...(spec
          ? {
              format: spec.format,
              size: Buffer.byteLength(spec.content),
              sha256: createHash('sha256').update(spec.content).digest('hex'),
              ...(spec.gray ? { gray: { target: spec.gray.target, size: Buffer.byteLength(spec.gray.content) } } : {}),
            }
          : {}),
      };
    });
    return { items, ...(log.length > limit ? { nextBefore: items[items.length - 1].revision } : {}) };
  }

  /** The config as written in one revision. */
  revision(namespace: string, group: string, name: string, revision: number): Promise<Resource> {
    return this.at(namespace, group, name, revision, 'revision');
  }

  /** A unified diff of the content between two revisions (`to` defaults to the current one). */
  async diff(namespace: string, group: string, name: string, from: number, to?: number) {
    const a = await this.at(namespace, group, name, from, 'from');
    const b = to === undefined ? await this.get(namespace, group, name) : await this.at(namespace, group, name, to, 'to');
    const [sa, sb] = [a.spec as unknown as ConfigSpec, b.spec as unknown as ConfigSpec];
    return { from, to: b.version, formatChanged: sa.format !== sb.format, diff: createTwoFilesPatch(`${name}@${from}`, `${name}@${b.version}`, sa.content, sb.content, sa.format, sb.format) };
  }

  /** Which revision every watching instance was sent and applied. */
  async instances(namespace: string, group: string, name: string): Promise<InstancesDto> {
    const cfg = await this.get(namespace, group, name);
    const revisions = (cfg.status.revisions ?? { content: cfg.version }) as { content: number; gray?: number };
    const items = await this.board.list(namespace, group, name);
    const summary = { current: 0, gray: 0, behind: 0, failed: 0 };
    for (const i of items) {
      if (i.error) summary.failed++;
      else if (i.applied !== undefined && i.applied === revisions.gray && i.gray) summary.gray++;
      else if (i.applied !== undefined && i.applied === revisions.content) summary.current++;
      else summary.behind++;
    }
    return { items, summary };
  }

  /** An instance says it applied (or could not apply) a revision. */
  async ack(namespace: string, group: string, name: string, a: { instanceId: string; revision: number; error?: string }): Promise<{ ok: true }> {
    const cfg = await this.get(namespace, group, name);
    if (a.revision > cfg.version) throw new ValidationFailed([{ field: 'revision', message: `Config ${cfg.namespace}/${cfg.group}/${name} has no revision ${a.revision} yet (at ${cfg.version})` }]);
    this.board.ack(namespace, group, name, a.instanceId, a.revision, a.error || undefined);
    return { ok: true };
  }

  // A config's versions are its revisions (they never repeat: see createOne), so the registry's history reads them.
  private at(namespace: string, group: string, name: string, revision: number, field: string): Promise<Resource> {
    return this.revisions.at(this.key(namespace, group, name), revision, field, 'revision');
  }

  /** Read, change the spec, write back guarded by the version read; another write in between means read again (unless the caller gave If-Match). */
  private async modify(namespace: string, group: string, name: string, ctx: WriteContext, change: (spec: ConfigSpec, cfg: Resource) => ConfigSpec): Promise<Resource> {
    const key = this.key(namespace, group, name);
    for (let attempt = 0; ; attempt++) {
      const cfg = await this.registry.get(key);
      const spec = change(cfg.spec as unknown as ConfigSpec, cfg);
      try {
        return await this.registry.replace(key, { labels: cfg.labels, spec }, { actor: ctx.actor, comment: ctx.comment, ifMatch: ctx.ifMatch ?? `"${cfg.version}"` });
      } catch (e) {
        if (e instanceof PreconditionFailed && ctx.ifMatch === undefined && attempt < 5) continue;
        throw e;
      }
    }
  }
}
