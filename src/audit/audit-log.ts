import { type BeforeApplicationShutdown, Inject, Injectable, Logger, type OnModuleInit, Optional } from '@nestjs/common';
import { ValidationFailed } from '../common/errors.js';
import { currentRequest } from '../common/request-context.js';
import { AuthService } from '../auth/auth.service.js';
import { AppConfig } from '../config/config.js';
import { Database } from '../database/database.js';
import { type Kind, scopeFields } from '../model/resources.js';
import { type Committed, RegistryEvents } from '../registry/registry-events.js';
import { mapDbError } from '../registry/store/typeorm-registry-store.js';
import { type AuditSink, openAuditSink } from './audit-sink.js';

/** One audit event: a committed change, or a failed authentication. */
export interface AuditEvent {
  /** Set once stored (the cursor of GET /api/v1/audit). */
  id?: number;
  type: 'write' | 'auth_failure';
  at: string;
  actor?: string;
  kind?: Kind;
  service?: string;
  namespace?: string;
  group?: string;
  name?: string;
  op?: 'create' | 'update' | 'delete';
  version?: number;
  /** The store revision of the change. */
  revision?: number;
  requestId?: string;
  /** Authentication failures: why, from where, on what. */
  reason?: string;
  remote?: string;
  method?: string;
  path?: string;
}

/** What the auth module reports when a credential is missing or refused. */
export interface AuthFailure {
  reason: string;
  remote?: string;
  method?: string;
  path?: string;
}

/** Filters of the audit query. */
export interface AuditQuery {
  /** An event id (events after it) or an RFC 3339 time (events at or after it). */
  since?: string;
  limit?: number;
  actor?: string;
  kind?: Kind;
  type?: AuditEvent['type'];
}

export interface AuditPage {
  items: AuditEvent[];
  /** Pass as since to read on: the last id returned (or the given since when nothing was). */
  nextSince?: number;
}

/** Most events kept in memory while the database cannot take them; older ones are dropped (and counted). */
const MAX_PENDING = 10000;
const BATCH = 500;

/**
 * The audit trail. It hears every committed registry write from the
 * registry's committed event (so REST, gRPC, apply, rollback, the config
 * centre and the rollout controller are all covered without each calling
 * it), and authentication failures from recordAuthFailure. Each event is
 * shipped at once as a JSON line (AUDIT_LOG) and stored in audit_events in
 * the background: recording never throws into, waits for, or fails a write;
 * a storage failure is logged and retried, and past MAX_PENDING events the
 * oldest are dropped with a warning.
 */
@Injectable()
export class AuditLog implements OnModuleInit, BeforeApplicationShutdown {
  private readonly log = new Logger('AuditLog');
  private pending: AuditEvent[] = [];
  private flushing?: Promise<void>;
  private scheduled = false;
  private retry?: NodeJS.Timeout;
  private dropped = 0;
  private sink: AuditSink = { write: () => undefined, close: async () => undefined };
  private unsubscribe?: () => void;

  constructor(
    private readonly events: RegistryEvents,
    @Inject(Database) private readonly db: Database,
    @Inject(AppConfig) private readonly config: AppConfig,
    @Optional() private readonly auth?: AuthService,
  ) {}

  onModuleInit(): void {
    this.sink = openAuditSink(this.config.AUDIT_LOG, (e) => this.log.error(`AUDIT_LOG ${this.config.AUDIT_LOG} cannot be written: ${e.message}; audit lines stop (events are still stored)`));
    this.unsubscribe = this.events.onCommitted((c) => this.committed(c));
    this.auth?.onFailure((f) => this.recordAuthFailure({ reason: `${f.status}: ${f.reason}`, remote: f.remote, method: f.method, path: f.path }));
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.unsubscribe?.();
    clearTimeout(this.retry);
    await this.flush();
    if (this.pending.length) this.log.warn(`${this.pending.length} audit event(s) not stored at shutdown (they were written to AUDIT_LOG)`);
    await this.sink.close();
  }

  /** For the auth module: a request whose credentials were missing, malformed or refused. */
  recordAuthFailure(f: AuthFailure): void {
    this.record({
      type: 'auth_failure',
      at: new Date().toISOString(),
      reason: String(f.reason).slice(0, 512),
      ...(f.remote !== undefined ? { remote: String(f.remote).slice(0, 128) } : {}),
      ...(f.method !== undefined ? { method: String(f.method).slice(0, 16) } : {}),
      ...(f.path !== undefined ? { path: String(f.path).slice(0, 1024) } : {}),
    });
  }

  /** Stored events, oldest first. Waits for this process's pending events first, so a writer reads its own writes. */
  async query(q: AuditQuery): Promise<AuditPage> {
    await this.flush();
    const params: unknown[] = [];
    const where: string[] = [];
    const p = (v: unknown) => {
      params.push(v);
      return `$${params.length}`;
    };
    let sinceId: number | undefined;
    if (q.since !== undefined) {
      if (/^\d{1,15}$/.test(q.since)) where.push(`"id" > ${p((sinceId = Number(q.since)))}`);
      else if (/^\d{4}-\d\d-\d\dT/.test(q.since) && !Number.isNaN(Date.parse(q.since))) where.push(`"at" >= ${p(new Date(q.since).toISOString())}`);
      else throw new ValidationFailed([{ field: 'since', message: 'must be an event id or an RFC 3339 time, e.g. 2026-12-02T00:00:00Z' }]);
    }
    if (q.actor !== undefined) where.push(`"actor" = ${p(q.actor)}`);
    if (q.kind !== undefined) where.push(`"kind" = ${p(q.kind)}`);
    if (q.type !== undefined) where.push(`"type" = ${p(q.type)}`);
    const limit = q.limit ?? 100;
    let rows: Row[];
    try {
      rows = await this.db.dataSource.query(`SELECT * FROM "audit_events" ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY "id" LIMIT ${p(limit)}`, params);
    } catch (e) {
      // The registry's classification: database down → 503, a filter value PostgreSQL refuses (NUL) → 400.
      throw mapDbError(e);
    }
    const items = rows.map(eventOf);
    const last = items[items.length - 1]?.id ?? sinceId;
    return { items, ...(last !== undefined ? { nextSince: last } : {}) };
  }

  /** Stores what is pending now (the background flush, also awaited by query and at shutdown). */
  async flush(): Promise<void> {
    // Wait out a flush in progress (it may have missed events recorded after its last look), then run one.
    while (this.flushing) await this.flushing;
    if (!this.pending.length) return;
    this.flushing = this.drain().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private committed(c: Committed): void {
    // Runs inside the writer's call after its commit: it must never throw into it.
    try {
      const requestId = currentRequest()?.requestId;
      for (const ch of c.changes) {
        this.record({
          type: 'write',
          at: ch.at,
          actor: ch.actor,
          kind: ch.kind,
          ...(ch.service !== undefined ? { service: ch.service } : {}),
          ...(ch.namespace !== undefined ? { namespace: ch.namespace, group: ch.group } : {}),
          name: ch.name,
          op: ch.op,
          version: ch.version,
          revision: ch.revision,
          ...(requestId ? { requestId } : {}),
        });
      }
    } catch (e) {
      this.log.error(`audit: could not record committed revision ${c.revision}: ${(e as Error).message}`);
    }
  }

  private record(e: AuditEvent): void {
    if (e.type === 'auth_failure' && !e.requestId) {
      const requestId = currentRequest()?.requestId;
      if (requestId) e.requestId = requestId;
    }
    try {
      this.sink.write(e);
    } catch (err) {
      this.log.error(`audit line not written: ${(err as Error).message}`);
    }
    this.pending.push(e);
    if (this.pending.length > MAX_PENDING) {
      this.pending.shift();
      if (this.dropped++ % 1000 === 0) this.log.warn(`audit: more than ${MAX_PENDING} events waiting for the database; dropping the oldest (${this.dropped} so far)`);
    }
    if (!this.scheduled && !this.retry) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        void this.flush();
      });
    }
  }

  private async drain(): Promise<void> {
    while (this.pending.length) {
      const batch = this.pending.splice(0, BATCH);
      try {
        await this.insert(batch);
      } catch (e) {
        // Put them back (in order, within the cap) and try again later; the writes themselves are long committed.
        this.pending = [...batch, ...this.pending].slice(-MAX_PENDING);
        this.log.warn(`audit: ${batch.length} event(s) not stored, retrying in 1s: ${(e as Error).message}`);
        this.retry ??= setTimeout(() => {
          this.retry = undefined;
          void this.flush();
        }, 1000);
        this.retry.unref();
        return;
      }
    }
  }

  private async insert(batch: AuditEvent[]): Promise<void> {
    const rows = batch.map((e) => ({
      at: e.at,
      type: e.type,
      actor: e.actor ?? null,
      kind: e.kind ?? null,
      scope: e.kind ? (e.service ?? (e.namespace !== undefined ? `${e.namespace}/${e.group}` : '')) : null,
      name: e.name ?? null,
      op: e.op ?? null,
      version: e.version ?? null,
      revision: e.revision ?? null,
      request_id: e.requestId ?? null,
      detail: e.type === 'auth_failure' ? { reason: e.reason, remote: e.remote, method: e.method, path: e.path } : null,
    }));
    await this.db.dataSource.query(
      `INSERT INTO "audit_events" ("at", "type", "actor", "kind", "scope", "name", "op", "version", "revision", "request_id", "detail")
       SELECT "at", "type", "actor", "kind", "scope", "name", "op", "version", "revision", "request_id", "detail"
         FROM jsonb_to_recordset($1::jsonb) AS x("at" timestamptz, "type" text, "actor" text, "kind" text, "scope" text, "name" text, "op" text, "version" integer, "revision" bigint, "request_id" text, "detail" jsonb)`,
      [JSON.stringify(rows)],
    );
  }
}

interface Row {
  id: string;
  at: Date;
  type: AuditEvent['type'];
  actor: string | null;
  kind: Kind | null;
  scope: string | null;
  name: string | null;
  op: AuditEvent['op'] | null;
  version: number | null;
  revision: string | null;
  request_id: string | null;
  detail: Record<string, string | undefined> | null;
}

function eventOf(r: Row): AuditEvent {
  const e: AuditEvent = { id: Number(r.id), type: r.type, at: new Date(r.at).toISOString() };
  if (r.actor !== null) e.actor = r.actor;
  if (r.kind !== null) Object.assign(e, { kind: r.kind }, scopeFields(r.kind, r.scope ?? ''));
  if (r.name !== null) e.name = r.name;
  if (r.op !== null) e.op = r.op;
  if (r.version !== null) e.version = r.version;
  if (r.revision !== null) e.revision = Number(r.revision);
  if (r.request_id !== null) e.requestId = r.request_id;
  for (const [k, v] of Object.entries(r.detail ?? {})) if (v !== undefined && v !== null) (e as unknown as Record<string, unknown>)[k] = v;
  return e;
}
