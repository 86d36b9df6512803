import type { SpanContext } from '@opentelemetry/api';
import type { Change, Kind, Resource, ResourceInput, ResourceKey } from '../../model/resources.js';
import type { LabelRequirement } from '../label-selector.js';

/** Options for listing one kind. */
export interface ListOptions {
  selector: LabelRequirement[];
  limit: number;
  /** Return names strictly after this one (keyset pagination). */
  after?: string;
  /**
   * Instead of one scope: every scope starting with this prefix, ordered by
   * scope then name; `after` is then `scope\u0000name`.
   */
  scopePrefix?: string;
}

/** Which entries of one resource's history to read. */
export interface HistoryOptions {
  /** Only this version. */
  version?: number;
  /** Newest first, at most this many (default: all, oldest first). */
  limit?: number;
  /** With limit: versions strictly below this one (paging back). */
  before?: number;
  /** Only entries with a store revision strictly below this one (paging back by revision). */
  beforeRevision?: number;
  /** Only entries with a store revision at or below this one (the state at a revision). */
  atOrBefore?: number;
}

export interface Page<T> {
  items: T[];
  /** Name of the last item when more may follow. */
  last?: string;
}

export interface WriteOptions {
  dryRun?: boolean;
  /** Recorded with every change-log entry of the write, next to the actor. */
  comment?: string;
  committed?: (c: { revision: number; changes: Change[]; trace?: SpanContext }) => void;
}

/** Everything a write transaction may do; every mutation appends to the change log. */
export interface WriteTx {
  readonly actor: string;
  /** Reads the latest committed (or this transaction's) state. */
  get(key: ResourceKey): Promise<Resource | undefined>;
  getMany(kind: Kind, names: string[]): Promise<Resource[]>;
  /** Resources of `kind` whose spec contains the JSON fragment (jsonb `@>`). */
  findContaining(kind: Kind, fragment: object): Promise<Resource[]>;
  /** Every resource of `kind` in `scope`. */
  listScope(kind: Kind, scope: string): Promise<Resource[]>;
  /**
   * `status` entries are merged into the (empty) status of the new resource.
   * `version` (default 1) lets a recreated resource go on from its history
   * rather than reuse version numbers.
   */
  create(input: ResourceInput, status?: Record<string, unknown>, opts?: { version?: number }): Promise<Resource>;
  /** Change-log entries of one key (objects included), as in RegistryStore.history. */
  history(key: ResourceKey, opts?: HistoryOptions): Promise<Change[]>;
  /** The keys with a change-log entry after `revision`, in the order of their first such entry. */
  keysChangedAfter(revision: number): Promise<ResourceKey[]>;
  /** The store revision this transaction started at (before its own writes). */
  readonly startRevision: number;
  /** `status` entries, when given, replace those top-level keys of the current status. */
  update(current: Resource, next: ResourceInput, status?: Record<string, unknown>): Promise<Resource>;
  remove(current: Resource): Promise<void>;
}

/**
 * One create that may be committed together with other concurrent ones
 * (group commit). Its rules are in `check`, which runs inside the
 * transaction that writes it, under the write lock, so the database is the
 * authority; the same `check` runs when the create falls back to a
 * transaction of its own.
 */
export interface GroupedCreate {
  actor: string;
  /** Recorded with the change-log entry, next to the actor. */
  comment?: string;
  input: ResourceInput;
  /** The status the new resource starts with. */
  status?: Record<string, unknown>;
  /** The keys `check` looks at (read in one statement for the whole batch). */
  reads: ResourceKey[];
  /**
   * Throws this create's own error to refuse it (the others of the batch go
   * on). `get` answers from the committed state read under the lock plus the
   * creates accepted earlier in the same batch (those are provisional: only
   * their key, input and version are meaningful), so each create sees what
   * it would see had the creates run one at a time in order.
   */
  check(get: (key: ResourceKey) => Resource | undefined): void;
  /** As WriteOptions.committed: after the commit, before the promise resolves, in the writer's async context. */
  committed?: WriteOptions['committed'];
}

/**
 * The registry's storage port. Writes run one at a time in store-revision
 * order, so the change log is gapless and ordered by commit.
 */
export interface RegistryStore {
  get(key: ResourceKey): Promise<Resource | undefined>;
  list(kind: Kind, scope: string | undefined, opts: ListOptions): Promise<Page<Resource>>;
  /** Changes with revision > since, oldest first, and the current store revision. */
  changes(since: number, limit: number, opts?: { withObjects?: boolean }): Promise<{ changes: Change[]; revision: number }>;
  /** The change-log entries of one key, objects included (deletes have none). */
  history(key: ResourceKey, opts?: HistoryOptions): Promise<Change[]>;
  /** Every resource at one consistent store revision (what translation reads). */
  snapshot(): Promise<{ revision: number; resources: Resource[] }>;
  /**
   * Sets (or, with null, removes) one top-level key of several resources' status.
   * Status is written back by later stages: no version bump, no change log entry.
   */
  setStatus(key: string, updates: { key: ResourceKey; value: unknown | null }[]): Promise<void>;
  /**
   * Runs `fn` in one transaction; with dryRun everything is rolled back but
   * the result returned. `committed` is called after the commit, before the
   * promise resolves, with exactly the change-log entries written (objects
   * included), the store revision after them and, when tracing records, the
   * span context of the transaction (the rebuild links to it).
   */
  write<T>(actor: string, fn: (tx: WriteTx) => Promise<T>, opts?: WriteOptions): Promise<T>;
  /**
   * Creates one resource, committed together with the other creates that
   * are waiting at the time (one transaction, one revision each, in queue
   * order). Resolves once its batch has committed; rejects with its own
   * error (from `check`, or from the database when it alone is at fault).
   */
  createGrouped(item: GroupedCreate): Promise<Resource>;
}

export const REGISTRY_STORE = Symbol('RegistryStore');
