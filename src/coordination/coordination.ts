/** A key and its value with etcd-style revisions. */
export interface KeyValue {
  key: string;
  value: string;
  createRevision: number;
  modRevision: number;
  /** Lease id ('0' when none). */
  lease: string;
}

export interface WatchEvent {
  type: 'put' | 'delete';
  kv: KeyValue;
}

export interface WatchHandlers {
  event(e: WatchEvent): void;
  /** The watch is over (compaction, cancellation by the server, lost connection for good): re-list and watch again. */
  error(err: Error): void;
}

export interface Watch {
  cancel(): void;
}

/** A lease this process holds. */
export interface LeaseHandle {
  id: string;
  ttl: number;
  /** Fires when the lease is gone (expired, revoked elsewhere, or could not be kept alive). */
  onLost(fn: (err: Error) => void): void;
  revoke(): Promise<void>;
}

/**
 * The coordination port: key/value with revisions, prefix watches from a
 * revision, leases with TTL and keepalive, and guarded (fenced) writes.
 * Backends: etcd, and an in-memory twin for the embedded default.
 */
export interface Coordination {
  readonly kind: 'etcd' | 'memory';
  get(key: string): Promise<KeyValue | undefined>;
  /**
   * One key and the store revision it was read at. Watch a key from that
   * revision + 1, never from its modRevision + 1: once history before the
   * read is compacted, a watch from an old modRevision fails every time.
   */
  getWithRevision(key: string): Promise<{ kv: KeyValue | undefined; revision: number }>;
  /** Keys under `prefix` and the store revision they were read at. */
  list(prefix: string): Promise<{ kvs: KeyValue[]; revision: number }>;
  /** Returns the revision of the write. */
  put(key: string, value: string, opts?: { lease?: string }): Promise<number>;
  delete(key: string): Promise<boolean>;
  /** Creates `key` only if it does not exist; returns its create revision, or undefined when it existed. */
  create(key: string, value: string, opts?: { lease?: string }): Promise<number | undefined>;
  /**
   * Writes (or, with value null, deletes) `key` only while `guard.key` still has
   * create revision `guard.createRevision`: a fenced write that a former leader cannot make.
   */
  putIf(guard: { key: string; createRevision: number }, key: string, value: string | null): Promise<boolean>;
  /** Events under `prefix` with revision ≥ fromRevision, in order. */
  watch(prefix: string, fromRevision: number, handlers: WatchHandlers): Watch;
  /** A lease kept alive by this process until revoked or lost. */
  grantLease(ttlSeconds: number): Promise<LeaseHandle>;
  /** A lease nobody keeps alive automatically (heartbeat registration): returns its id. */
  grantPassiveLease(ttlSeconds: number): Promise<string>;
  /** One keepalive for any lease id; returns the remaining TTL, or 0 when the lease no longer exists. */
  keepAlive(leaseId: string): Promise<number>;
  revoke(leaseId: string): Promise<void>;
  /** Cheap liveness probe of the backend. */
  ping(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Raised when a watch start revision has been compacted away. */
export class CompactedError extends Error {}

/** Key layout (documented in the README; instances may write endpoint keys directly). */
export const KEYS = {
  endpoints: '/switchyard/endpoints/',
  endpoint: (service: string, id: string) => `/switchyard/endpoints/${service}/${id}`,
  revision: '/switchyard/registry/revision',
  leader: '/switchyard/leader',
  members: '/switchyard/members/',
  /** Per replica: the load its xDS clients reported (LRS), for rollout analysis on the leader. */
  load: '/switchyard/load/',
  /** Config centre: per watching instance, the revision it was sent and the one it applied (on the serving replica's lease). */
  configInstances: '/switchyard/config-instances/',
} as const;

/** Nest injection token of the coordination port. */
export const COORDINATION = Symbol('Coordination');
