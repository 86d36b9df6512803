import { SpanKind } from '@opentelemetry/api';
import { ATTR_DB_OPERATION_NAME, ATTR_DB_SYSTEM_NAME, DB_SYSTEM_NAME_VALUE_POSTGRESQL } from '@opentelemetry/semantic-conventions';
import { AsyncResource } from 'node:async_hooks';
import type { SpanContext } from '@opentelemetry/api';
import type { DataSource, EntityManager } from 'typeorm';
import { recordedContext, withSpan } from '../../observability/tracing.js';
import { AlreadyExists, dataFault, DomainError, InsufficientStorage, storageFault, Unavailable } from '../../common/errors.js';
import type { LabelRequirement } from '../label-selector.js';
import { type Change, type Kind, type Resource, type ResourceInput, type ResourceKey, scopeFields, scopeOf } from '../../model/resources.js';
import { GroupCommit, type Settled } from './group-commit.js';
import { COLUMNS, keyId, normalized, type Row, selectByKeys, toResource } from './rows.js';
import { type CreateBatchResult, type SimpleQueryClient, writeCreateBatch } from './create-batch.js';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver.js';
import type { GroupedCreate, HistoryOptions, ListOptions, Page, RegistryStore, WriteOptions, WriteTx } from './registry-store.js';

// Connection-level failures: the database is down or unreachable, not the request's fault.
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', '57P01', '57P02', '57P03', '53300', '3D000', '08000', '08001', '08003', '08006', '08004']);

/** Maps driver errors to domain errors so transports answer 503 / UNAVAILABLE, not 500. */
export function mapDbError(e: unknown): unknown {
  if (e instanceof DomainError) return e;
  const err = e as { code?: string; message?: string; severity?: string; driverError?: { code?: string; severity?: string } };
  const code = err.code ?? err.driverError?.code;
  const msg = err.message ?? String(e);
  if (code === '23505') return new AlreadyExists(`already exists: ${msg}`);
  const storage = storageFault(code, msg) ?? dataFault(code, msg);
  if (storage) return storage;
  if (
    (code && UNAVAILABLE_CODES.has(code)) ||
    // FATAL errors end the session: the server refused or dropped us, whatever the code.
    (err.severity ?? err.driverError?.severity) === 'FATAL' ||
    /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|not queryable|Connection is not established|database .* does not exist/i.test(msg)
  ) {
    return new Unavailable(`database unavailable: ${msg}`);
  }
  return e;
}

async function guard<T>(p: () => Promise<T>): Promise<T> {
  try {
    return await p();
  } catch (e) {
    throw mapDbError(e);
  }
}

// Endpoints are selected by their own labels (spec.labels) as well as metadata labels.
function selectorSql(kind: Kind, reqs: LabelRequirement[], params: unknown[]): string[] {
  const labels = kind === 'Endpoint' ? `("labels" || COALESCE("spec" -> 'labels', '{}'::jsonb))` : `"labels"`;
  const p = (v: unknown) => {
    params.push(v);
    return `$${params.length}`;
  };
  return reqs.map((r) => {
    switch (r.op) {
      case '=':
        return `${labels} @> ${p(JSON.stringify({ [r.key]: r.values[0] }))}::jsonb`;
      case '!=':
        return `NOT (${labels} @> ${p(JSON.stringify({ [r.key]: r.values[0] }))}::jsonb)`;
      case 'exists':
        return `jsonb_exists(${labels}, ${p(r.key)})`;
      case '!exists':
        return `NOT jsonb_exists(${labels}, ${p(r.key)})`;
      case 'in':
        return `(${labels} ->> ${p(r.key)}) = ANY(${p(r.values)}::text[])`;
      case 'notin':
        return `COALESCE(NOT ((${labels} ->> ${p(r.key)}) = ANY(${p(r.values)}::text[])), true)`;
    }
  });
}

class RollbackForDryRun<T> extends Error {
  constructor(readonly result: T) {
    super('dry run');
  }
}

// What a key may hold to be read in a batch: jsonb refuses NUL and lone surrogates (a text parameter does not).
const JSONB_SAFE = /^[^\u0000\ud800-\udfff]*$/;

/** A grouped create waiting for its batch: the async context and span of its writer. */
interface QueuedCreate {
  item: GroupedCreate;
  scope: AsyncResource;
  trace?: SpanContext;
}


/** RegistryStore on PostgreSQL (server or embedded PGlite) through TypeORM. */
export class TypeormRegistryStore implements RegistryStore {
  private readonly reads = new GroupCommit<ResourceKey, Resource | undefined>((keys) => this.getMany(keys));
  private readonly creates = new GroupCommit<QueuedCreate, { resource: Resource; revision: number }>((batch) => this.commitCreates(batch));

  constructor(private readonly ds: DataSource) {}

  /**
   * Point reads are batched as creates are: the ones that arrive while a
   * batch is being read go together in the next one (a lone read goes at
   * once). A fleet registering heartbeat endpoints reads two keys per
   * registration (the service, and no durable endpoint of that name), and one
   * statement per batch instead of per read was most of their cost. A key
   * with a character jsonb cannot carry (NUL, a lone surrogate) is read on
   * its own, so that its error is its own and not its batch's.
   */
  get(key: ResourceKey): Promise<Resource | undefined> {
    return guard(() => (JSONB_SAFE.test(key.kind + key.scope + key.name) ? this.reads.submit(key) : this.getOne(key)));
  }

  private async getOne(key: ResourceKey): Promise<Resource | undefined> {
    const rows: Row[] = await this.ds.query(`SELECT ${COLUMNS} FROM "resources" WHERE "kind" = $1 AND "scope" = $2 AND "name" = $3`, [key.kind, key.scope, key.name]);
    return rows[0] ? toResource(rows[0]) : undefined;
  }

  private async getMany(keys: ResourceKey[]): Promise<Settled<Resource | undefined>[]> {
    if (keys.length === 1) return [{ ok: true, value: await this.getOne(keys[0]) }];
    const wanted = [...new Map(keys.map((k) => [keyId(k), { kind: k.kind, scope: k.scope, name: k.name }])).values()];
    const rows: Row[] = await this.ds.query(selectByKeys('$1::jsonb'), [JSON.stringify(wanted)]);
    const found = new Map(rows.map((r) => [keyId(r), r]));
    // Each reader gets its own object, as from a read of its own.
    return keys.map((k) => {
      const r = found.get(keyId(k));
      return { ok: true, value: r ? toResource(r) : undefined };
    });
  }

  list(kind: Kind, scope: string | undefined, opts: ListOptions): Promise<Page<Resource>> {
    return guard(async () => {
      const params: unknown[] = [kind];
      const where = [`"kind" = $1`];
      const byScope = opts.scopePrefix !== undefined;
      if (byScope) {
        params.push(opts.scopePrefix!.replace(/[\\%_]/g, (c) => `\\${c}`) + '%');
        where.push(`"scope" LIKE $${params.length}`);
      } else if (scope !== undefined) {
        params.push(scope);
        where.push(`"scope" = $${params.length}`);
      }
      if (opts.after !== undefined) {
        if (byScope) {
          const [afterScope, afterName] = splitAfter(opts.after);
          params.push(afterScope, afterName);
          where.push(`("scope" COLLATE "C", "name" COLLATE "C") > ($${params.length - 1}, $${params.length})`);
        } else {
          params.push(opts.after);
          where.push(`"name" COLLATE "C" > $${params.length}`);
        }
      }
      where.push(...selectorSql(kind, opts.selector, params));
      params.push(opts.limit + 1);
      const order = byScope ? `"scope" COLLATE "C", "name" COLLATE "C"` : `"name" COLLATE "C", "scope"`;
      const rows: Row[] = await this.ds.query(
        `SELECT ${COLUMNS} FROM "resources" WHERE ${where.join(' AND ')} ORDER BY ${order} LIMIT $${params.length}`,
        params,
      );
      const more = rows.length > opts.limit;
      const items = rows.slice(0, opts.limit).map(toResource);
      const lastItem = items[items.length - 1];
      return { items, last: more ? (byScope ? `${scopeOf(lastItem)}\u0000${lastItem.name}` : lastItem.name) : undefined };
    });
  }

  changes(since: number, limit: number, opts: { withObjects?: boolean } = {}): Promise<{ changes: Change[]; revision: number }> {
    return guard(async () => {
      // One statement, so the revision and the rows come from the same snapshot.
      const rows: any[] = await this.ds.query(
        `SELECT c.*, s."revision" AS "head" FROM "registry_state" s
           LEFT JOIN LATERAL (SELECT * FROM "changes" WHERE "revision" > $1 ORDER BY "revision" LIMIT $2) c ON true
          WHERE s."id" = 1`,
        [since, limit],
      );
      const revision = Number(rows[0]?.head ?? 0);
      const changes = rows.filter((r) => r.kind !== null).map((r) => {
        const c = changeOf(r);
        if (!opts.withObjects) delete c.object;
        return c;
      });
      return { changes, revision };
    });
  }

  history(key: ResourceKey, opts: HistoryOptions = {}): Promise<Change[]> {
    return guard(() => readHistory(this.ds, key, opts));
  }

  snapshot(): Promise<{ revision: number; resources: Resource[] }> {
    return guard(() =>
      // REPEATABLE READ: the revision and the rows come from the same snapshot.
      this.ds.transaction('REPEATABLE READ', async (em) => {
        const [state] = await em.query(`SELECT "revision" FROM "registry_state" WHERE "id" = 1`);
        const rows: Row[] = await em.query(`SELECT ${COLUMNS} FROM "resources" ORDER BY "kind", "scope", "name" COLLATE "C"`);
        return { revision: Number(state.revision), resources: rows.map(toResource) };
      }),
    );
  }

  setStatus(key: string, updates: { key: ResourceKey; value: unknown | null }[]): Promise<void> {
    if (!updates.length) return Promise.resolve();
    return guard(async () => {
      await this.ds.query(
        `UPDATE "resources" r SET "status" = CASE WHEN u.value IS NULL THEN r."status" - $1 ELSE r."status" || jsonb_build_object($1::text, u.value) END
           FROM jsonb_to_recordset($2::jsonb) AS u(kind text, scope text, name text, value jsonb)
          WHERE r."kind" = u.kind AND r."scope" = u.scope AND r."name" = u.name`,
        [key, JSON.stringify(updates.map((u) => ({ kind: u.key.kind, scope: u.key.scope, name: u.key.name, value: u.value })))],
      );
    });
  }

  /** One transaction, traced as a span (a child of the request's); its span context goes out with `committed`. */
  write<T>(actor: string, fn: (tx: WriteTx) => Promise<T>, opts: WriteOptions = {}): Promise<T> {
    const attributes = { [ATTR_DB_SYSTEM_NAME]: DB_SYSTEM_NAME_VALUE_POSTGRESQL, [ATTR_DB_OPERATION_NAME]: 'TRANSACTION', 'switchyard.dry_run': !!opts.dryRun };
    return withSpan('registry.transaction', { kind: SpanKind.CLIENT, attributes }, async (span) => {
      let tx: PgWriteTx | undefined;
      let result: T;
      try {
        result = await this.ds.transaction(async (em) => {
          // Locking the counter row first serialises writers: revisions follow commit order.
          const [state] = await em.query(`SELECT "revision" FROM "registry_state" WHERE "id" = 1 FOR UPDATE`);
          tx = new PgWriteTx(em, actor, Number(state.revision), opts.comment);
          const out = await fn(tx);
          if (opts.dryRun) throw new RollbackForDryRun(out);
          if (tx.revision !== Number(state.revision)) {
            await em.query(`UPDATE "registry_state" SET "revision" = $1 WHERE "id" = 1`, [tx.revision]);
          }
          return out;
        });
      } catch (e) {
        if (e instanceof RollbackForDryRun) return e.result as T;
        throw mapDbError(e);
      }
      span.setAttributes({ 'switchyard.registry.revision': tx!.revision, 'switchyard.registry.changes': tx!.changes.length });
      const trace = recordedContext(span);
      opts.committed?.({ revision: tx!.revision, changes: tx!.changes, ...(trace ? { trace } : {}) });
      return result;
    });
  }

  /** Queued for the next batch; traced as the writer's own transaction span. */
  createGrouped(item: GroupedCreate): Promise<Resource> {
    const attributes = { [ATTR_DB_SYSTEM_NAME]: DB_SYSTEM_NAME_VALUE_POSTGRESQL, [ATTR_DB_OPERATION_NAME]: 'TRANSACTION', 'switchyard.dry_run': false, 'switchyard.registry.grouped': true };
    return withSpan('registry.transaction', { kind: SpanKind.CLIENT, attributes }, async (span) => {
      const trace = recordedContext(span);
      const { resource, revision } = await this.creates.submit({ item, scope: new AsyncResource('registry.groupCommit'), ...(trace ? { trace } : {}) });
      span.setAttributes({ 'switchyard.registry.revision': revision, 'switchyard.registry.changes': 1 });
      return resource;
    });
  }

  /**
   * One batch of grouped creates in one transaction (writeCreateBatch). A
   * check's refusal answers that create alone. If a statement fails, the
   * batch is rolled back and every create runs again in a transaction of its
   * own (in order), so the one at fault gets its own error and the others go
   * through; only when the database itself is down or full does every create
   * of the batch get that error at once (each alone would get it too).
   */
  private async commitCreates(batch: QueuedCreate[]): Promise<Settled<{ resource: Resource; revision: number }>[]> {
    let result: CreateBatchResult | undefined;
    let failure: unknown;
    try {
      // A raw connection of the pool: the batch's statements go in the simple protocol, several per round trip.
      const [client, release] = (await (this.ds.driver as PostgresDriver).obtainMasterConnection()) as [SimpleQueryClient, (err?: unknown) => void];
      try {
        result = await writeCreateBatch(client, batch.map((q) => q.item));
        release();
      } catch (e) {
        // A connection that failed (its ROLLBACK did not go through either) is not reused; after a refused statement it is.
        release(mapDbError(e) instanceof Unavailable ? e : undefined);
        throw e;
      }
    } catch (e) {
      failure = mapDbError(e);
    }
    if (!result) {
      if (failure instanceof Unavailable || failure instanceof InsufficientStorage) return batch.map(() => ({ ok: false, error: failure }));
      return this.commitOneByOne(batch);
    }
    const out: Settled<{ resource: Resource; revision: number }>[] = result.refused.map((error) => ({ ok: false, error }));
    // Announced in revision order, each in its writer's async context (the audit log reads the request id there).
    for (const w of result.written) {
      const q = batch[w.at];
      q.scope.runInAsyncScope(() => q.item.committed?.({ revision: w.change.revision, changes: [w.change], ...(q.trace ? { trace: q.trace } : {}) }));
      out[w.at] = { ok: true, value: { resource: w.resource, revision: w.change.revision } };
    }
    return out;
  }

  /** The fallback: each create of a failed batch in its own transaction, the same check first. */
  private async commitOneByOne(batch: QueuedCreate[]): Promise<Settled<{ resource: Resource; revision: number }>[]> {
    const out: Settled<{ resource: Resource; revision: number }>[] = [];
    for (const q of batch) {
      const { item } = q;
      let revision = 0;
      try {
        const resource = await q.scope.runInAsyncScope(() =>
          this.write(
            item.actor,
            async (tx) => {
              const view = new Map<string, Resource | undefined>();
              for (const k of item.reads) view.set(keyId(k), await tx.get(k));
              item.check((k) => view.get(keyId(k)));
              return tx.create(item.input, item.status);
            },
            { comment: item.comment, committed: (c) => ((revision = c.revision), item.committed?.(c)) },
          ),
        );
        out.push({ ok: true, value: { resource, revision } });
      } catch (error) {
        out.push({ ok: false, error });
      }
    }
    return out;
  }
}

class PgWriteTx implements WriteTx {
  /** The change-log entries written, in order (handed to `committed` after the commit). */
  readonly changes: Change[] = [];
  readonly startRevision: number;

  constructor(
    private readonly em: EntityManager,
    readonly actor: string,
    public revision: number,
    private readonly comment?: string,
  ) {
    this.startRevision = revision;
  }

  async keysChangedAfter(revision: number): Promise<ResourceKey[]> {
    const rows: { kind: Kind; scope: string; name: string }[] = await this.em.query(
      `SELECT "kind", "scope", "name" FROM "changes" WHERE "revision" > $1 GROUP BY "kind", "scope", "name" ORDER BY min("revision")`,
      [revision],
    );
    return rows.map((r) => ({ kind: r.kind, scope: r.scope, name: r.name }));
  }

  async get(key: ResourceKey): Promise<Resource | undefined> {
    const rows: Row[] = await this.em.query(
      `SELECT ${COLUMNS} FROM "resources" WHERE "kind" = $1 AND "scope" = $2 AND "name" = $3`,
      [key.kind, key.scope, key.name],
    );
    return rows[0] ? toResource(rows[0]) : undefined;
  }

  async getMany(kind: Kind, names: string[]): Promise<Resource[]> {
    if (!names.length) return [];
    const rows: Row[] = await this.em.query(
      `SELECT ${COLUMNS} FROM "resources" WHERE "kind" = $1 AND "scope" = '' AND "name" = ANY($2::text[])`,
      [kind, names],
    );
    return rows.map(toResource);
  }

  async findContaining(kind: Kind, fragment: object): Promise<Resource[]> {
    const rows: Row[] = await this.em.query(
      `SELECT ${COLUMNS} FROM "resources" WHERE "kind" = $1 AND "spec" @> $2::jsonb ORDER BY "name" COLLATE "C"`,
      [kind, JSON.stringify(fragment)],
    );
    return rows.map(toResource);
  }

  async listScope(kind: Kind, scope: string): Promise<Resource[]> {
    const rows: Row[] = await this.em.query(
      `SELECT ${COLUMNS} FROM "resources" WHERE "kind" = $1 AND "scope" = $2 ORDER BY "name" COLLATE "C"`,
      [kind, scope],
    );
    return rows.map(toResource);
  }

  history(key: ResourceKey, opts: HistoryOptions = {}): Promise<Change[]> {
    return readHistory(this.em, key, opts);
  }

  async create(input: ResourceInput, status: Record<string, unknown> = {}, opts: { version?: number } = {}): Promise<Resource> {
    const rev = ++this.revision;
    const version = String(opts.version ?? 1);
    const rows: Row[] = await this.em.query(
      `INSERT INTO "resources" ("kind", "scope", "name", "labels", "spec", "status", "version", "revision", "created_at", "updated_at")
       VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $7::jsonb, $8, $6, now(), now())
       RETURNING ${COLUMNS}`,
      [input.kind, scopeOf(input), input.name, JSON.stringify(input.labels), JSON.stringify(input.spec), rev, JSON.stringify(status), version],
    );
    const res = toResource(rows[0]);
    await this.log(rev, res, 'create');
    return res;
  }

  async update(current: Resource, next: ResourceInput, status: Record<string, unknown> = {}): Promise<Resource> {
    const rev = ++this.revision;
    // Wrapped in a CTE so TypeORM returns rows (it returns [rows, count] for a bare UPDATE).
    const rows: Row[] = await this.em.query(
      `WITH u AS (
         UPDATE "resources" SET "labels" = $4::jsonb, "spec" = $5::jsonb, "status" = "status" || $8::jsonb, "version" = "version" + 1, "revision" = $6, "updated_at" = now()
          WHERE "kind" = $1 AND "scope" = $2 AND "name" = $3 AND "version" = $7
          RETURNING ${COLUMNS})
       SELECT * FROM u`,
      [current.kind, scopeOf(current), current.name, JSON.stringify(next.labels), JSON.stringify(next.spec), rev, current.version, JSON.stringify(status)],
    );
    // Writers are serialised, so the row cannot have moved since it was read in this transaction.
    if (!rows[0]) throw new Error(`internal: ${current.kind} ${current.name} changed under a serialised write`);
    const res = toResource(rows[0]);
    await this.log(rev, res, 'update');
    return res;
  }

  async remove(current: Resource): Promise<void> {
    const rev = ++this.revision;
    await this.em.query(`DELETE FROM "resources" WHERE "kind" = $1 AND "scope" = $2 AND "name" = $3`, [
      current.kind,
      scopeOf(current),
      current.name,
    ]);
    await this.log(rev, { ...current, version: current.version + 1 }, 'delete');
  }

  private async log(rev: number, r: Resource, op: Change['op']): Promise<void> {
    const actor = this.actor.slice(0, 128);
    const comment = this.comment?.slice(0, 256);
    const rows: { at: Date }[] = await this.em.query(
      `INSERT INTO "changes" ("revision", "kind", "scope", "name", "version", "op", "actor", "comment", "at", "object")
       VALUES ($1, $2, $3, $4, $5, $6, $7, $9, now(), $8::jsonb) RETURNING "at"`,
      [rev, r.kind, scopeOf(r), r.name, r.version, op, actor, op === 'delete' ? null : JSON.stringify(r), comment ?? null],
    );
    // The same entry a reader of the change log gets (the object as stored: keys sorted like toResource's).
    this.changes.push({
      revision: rev,
      kind: r.kind,
      ...scopeFields(r.kind, scopeOf(r)),
      name: r.name,
      version: r.version,
      op,
      actor,
      ...(comment !== undefined ? { comment } : {}),
      at: new Date(rows[0].at).toISOString(),
      object: op === 'delete' ? null : r,
    });
  }
}

function splitAfter(after: string): [string, string] {
  const i = after.indexOf('\u0000');
  return i < 0 ? ['', after] : [after.slice(0, i), after.slice(i + 1)];
}

interface ChangeRow {
  revision: string;
  kind: Kind;
  scope: string;
  name: string;
  version: number;
  op: Change['op'];
  actor: string;
  comment: string | null;
  at: Date;
  object: Resource | null;
}

const changeOf = (r: ChangeRow): Change => ({
  revision: Number(r.revision),
  kind: r.kind,
  ...scopeFields(r.kind, r.scope),
  name: r.name,
  version: r.version,
  op: r.op,
  actor: r.actor,
  ...(r.comment !== null && r.comment !== undefined ? { comment: r.comment } : {}),
  at: new Date(r.at).toISOString(),
  object: r.object ? normalized(r.object) : null,
});

async function readHistory(q: { query(sql: string, params: unknown[]): Promise<ChangeRow[]> }, key: ResourceKey, opts: HistoryOptions): Promise<Change[]> {
  const params: unknown[] = [key.kind, key.scope, key.name];
  const where = [`"kind" = $1`, `"scope" = $2`, `"name" = $3`];
  if (opts.version !== undefined) {
    params.push(opts.version);
    where.push(`"version" = $${params.length}`);
  }
  if (opts.before !== undefined) {
    params.push(opts.before);
    where.push(`"version" < $${params.length}`);
  }
  if (opts.beforeRevision !== undefined) {
    params.push(opts.beforeRevision);
    where.push(`"revision" < $${params.length}`);
  }
  if (opts.atOrBefore !== undefined) {
    params.push(opts.atOrBefore);
    where.push(`"revision" <= $${params.length}`);
  }
  let tail = `ORDER BY "revision"`;
  if (opts.limit !== undefined) {
    params.push(opts.limit);
    tail = `ORDER BY "revision" DESC LIMIT $${params.length}`;
  }
  const rows = await q.query(`SELECT "revision", "kind", "scope", "name", "version", "op", "actor", "comment", "at", "object" FROM "changes" WHERE ${where.join(' AND ')} ${tail}`, params);
  return rows.map(changeOf);
}
