import { escapeLiteral } from 'pg';
import { type Change, type Resource, scopeFields, scopeOf } from '../../model/resources.js';
import type { GroupedCreate } from './registry-store.js';
import { keyId, type Row, selectByKeys, toResource } from './rows.js';

/** The part of a pg client this needs: a simple-protocol query, which may hold several statements. */
export interface SimpleQueryClient {
  query(text: string): Promise<unknown>;
}

/** What one batch wrote: per create, its refusal or what it stored. */
export interface CreateBatchResult {
  /** By position in the batch: the create's own refusal (its check threw), or undefined when it was written. */
  refused: unknown[];
  /** The written creates in revision order, each with its position in the batch. */
  written: { at: number; change: Change; resource: Resource }[];
}

interface Result<T> {
  rows: T[];
}

// JSON goes into the statements as escaped literals (the simple protocol has no parameters).
const json = (v: unknown) => `${escapeLiteral(JSON.stringify(v))}::jsonb`;
// What jsonb gives back for a value: what JSON gives back (undefined members dropped, -0 as 0).
const roundTrip = <T>(v: T): T => (v === undefined ? v : JSON.parse(JSON.stringify(v)));

/**
 * One batch of grouped creates in one transaction, in two round trips to the
 * database instead of seven: every statement waits for a reply, and with the
 * embedded database on its own thread (or a server across a network) the
 * waits, not the statements, were most of a batch's time.
 *
 * First: BEGIN, the registry_state lock (with the transaction's now()), then
 * one read of every key the checks need; each statement takes its snapshot
 * after the previous one, so the read sees every commit before the lock.
 * Then the checks, in queue order, each seeing the creates accepted before
 * it. Second: the INSERT into resources, the INSERT into changes, the
 * registry_state update and COMMIT. The stored resources are built here from
 * the same values the INSERTs store (now() is fixed for a transaction), so
 * nothing needs to be read back.
 *
 * Throws the driver's error when a statement fails, after rolling back: the
 * caller decides what a failed batch means.
 */
export async function writeCreateBatch(client: SimpleQueryClient, items: GroupedCreate[]): Promise<CreateBatchResult> {
  try {
    return await write(client, items);
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

async function write(client: SimpleQueryClient, items: GroupedCreate[]): Promise<CreateBatchResult> {
  const keys = new Map<string, { kind: string; scope: string; name: string }>();
  for (const item of items) for (const k of item.reads) keys.set(keyId(k), { kind: k.kind, scope: k.scope, name: k.name });
  const read = keys.size
    ? `; ${selectByKeys(json([...keys.values()]))}`
    : '';
  const first = (await client.query(`BEGIN; SELECT "revision", now() AS "now" FROM "registry_state" WHERE "id" = 1 FOR UPDATE${read}`)) as Result<unknown>[];
  const state = (first[1] as Result<{ revision: string; now: Date }>).rows[0];
  const rows = keys.size ? (first[2] as Result<Row>).rows : [];
  let revision = Number(state.revision);
  const now = new Date(state.now);

  const view = new Map(rows.map((r) => [keyId(r), toResource(r)]));
  const refused: unknown[] = [];
  const accepted: { at: number; revision: number; item: GroupedCreate; resource: Resource }[] = [];
  items.forEach((item, at) => {
    try {
      item.check((k) => view.get(keyId(k)));
    } catch (error) {
      refused[at] = error;
      return;
    }
    const { input } = item;
    const scope = scopeOf(input);
    const resource = toResource({
      kind: input.kind,
      scope,
      name: input.name,
      labels: roundTrip(input.labels),
      spec: roundTrip(input.spec),
      status: roundTrip(item.status ?? {}),
      version: 1,
      created_at: now,
      updated_at: now,
    });
    view.set(keyId({ kind: input.kind, scope, name: input.name }), resource);
    accepted.push({ at, revision: ++revision, item, resource });
  });
  if (!accepted.length) {
    await client.query('COMMIT');
    return { refused, written: [] };
  }

  const at = now.toISOString();
  const written = accepted.map(({ at: position, revision: rev, item, resource }) => {
    const comment = item.comment?.slice(0, 256);
    // The same entry a reader of the change log gets, as PgWriteTx.log builds it.
    const change: Change = { revision: rev, kind: resource.kind, ...scopeFields(resource.kind, scopeOf(resource)), name: resource.name, version: 1, op: 'create', actor: item.actor.slice(0, 128), ...(comment !== undefined ? { comment } : {}), at, object: resource };
    return { at: position, change, resource };
  });
  const resources = accepted.map(({ revision: rev, item }) => ({ kind: item.input.kind, scope: scopeOf(item.input), name: item.input.name, labels: item.input.labels, spec: item.input.spec, status: item.status ?? {}, revision: rev }));
  const changes = written.map(({ change, resource }) => ({ revision: change.revision, kind: resource.kind, scope: scopeOf(resource), name: resource.name, version: 1, actor: change.actor, comment: change.comment ?? null, object: resource }));
  await client.query(
    `INSERT INTO "resources" ("kind", "scope", "name", "labels", "spec", "status", "version", "revision", "created_at", "updated_at")
     SELECT x."kind", x."scope", x."name", x."labels", x."spec", x."status", 1, x."revision", now(), now()
       FROM jsonb_to_recordset(${json(resources)}) AS x("kind" text, "scope" text, "name" text, "labels" jsonb, "spec" jsonb, "status" jsonb, "revision" bigint)
      ORDER BY x."revision";
     INSERT INTO "changes" ("revision", "kind", "scope", "name", "version", "op", "actor", "comment", "at", "object")
     SELECT x."revision", x."kind", x."scope", x."name", x."version", 'create', x."actor", x."comment", now(), x."object"
       FROM jsonb_to_recordset(${json(changes)}) AS x("revision" bigint, "kind" text, "scope" text, "name" text, "version" integer, "actor" text, "comment" text, "object" jsonb)
      ORDER BY x."revision";
     UPDATE "registry_state" SET "revision" = ${revision} WHERE "id" = 1;
     COMMIT`,
  );
  return { refused, written };
}
