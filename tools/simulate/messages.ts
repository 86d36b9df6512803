/**
 * What the coordinator, the workers and the floor server say to each other
 * over IPC (child_process.fork with the 'advanced' serialization, so Buffers
 * and large arrays travel without JSON).
 */
import { TYPE, type TypeUrl } from '../../src/translate/envoy-types.js';
import type { ClientKind } from './options.js';

/** Short names of the four xDS types, in Switchyard's push order. */
export type TypeKey = 'cds' | 'eds' | 'lds' | 'rds';
export const TYPE_KEYS: TypeKey[] = ['cds', 'eds', 'lds', 'rds'];
export const TYPE_URL: Record<TypeKey, TypeUrl> = { cds: TYPE.cluster, eds: TYPE.endpoint, lds: TYPE.listener, rds: TYPE.route };
export const KEY_OF: Record<string, TypeKey> = { [TYPE.cluster]: 'cds', [TYPE.endpoint]: 'eds', [TYPE.listener]: 'lds', [TYPE.route]: 'rds' };

/** One simulated proxy, as planned by the coordinator. */
export interface ProxySpec {
  /** Position in the fleet: sets the connect time (index / rate). */
  index: number;
  /** node.id */
  id: string;
  kind: ClientKind;
  /** node.cluster for Envoy-like proxies. */
  group?: string;
  /** Route host a grpc-like proxy dials (its LDS resource name). */
  host?: string;
  /** Index of the service behind `host` (which changes reach it). */
  service?: number;
  /** Syncs once, then stops reading. */
  slow?: boolean;
}

/** Which types each proxy must see change before it counts as converged (empty = excluded). */
export interface Expectation {
  envoy: TypeKey[];
  /** grpc-like proxies of this service index get `grpc`; the others are excluded. */
  grpcService?: number;
  grpc: TypeKey[];
}

/** Per-proxy outcome of one change. */
export interface ConvergenceReport {
  change: number;
  /** Proxies expected to converge, and how many did. */
  expected: number;
  converged: number;
  excluded: number;
  /** convergedAt of each converged proxy (epoch ms). */
  times: number[];
  /** Earliest receipt of a changed response of an expected type. */
  firstRecv: number;
  /** Response bytes received between arm and report, over all measured proxies. */
  bytes: number;
  /** Responses with new versions of types the change was not expected to touch. */
  unexpected: number;
  /** Ids of proxies that did not converge (first few), for error messages. */
  missing: string[];
}

/** Per-proxy ACK state, for tests and for failure messages. */
export interface ProxyState {
  id: string;
  kind: ClientKind;
  slow: boolean;
  synced: boolean;
  connected: boolean;
  acked: Partial<Record<TypeKey, string>>;
  /** Resources held per type. */
  held: Partial<Record<TypeKey, number>>;
}

/** Settings a worker needs to run its share of the fleet. */
export interface WorkerConfig {
  worker: number;
  /** xDS server, host:port. */
  target: string;
  proxies: ProxySpec[];
  /** When the fleet starts connecting (epoch ms); proxy i starts at start + i * 1000 / rate. */
  start: number;
  connectRate: number;
  streamsPerConnection: number;
  ackDelayMs: number;
  /** 'version': converged once every expected type has a new ACKed version; 'response': once a response received after arming is ACKed (the floor repeats bytes). */
  criterion: 'version' | 'response';
}

export type ToWorker =
  | { t: 'start'; config: WorkerConfig }
  | { t: 'arm'; change: number; expect: Expectation }
  | { t: 'collect'; change: number }
  | { t: 'state' }
  | { t: 'stop' };

/** Aggregated counters a worker sends about twice a second. */
export interface Progress {
  connected: number;
  synced: number;
  converged: number;
  retries: Record<string, number>;
  /** CPU seconds the worker has used (to tell when the simulator itself is the bottleneck). */
  cpu: number;
}

export type FromWorker =
  | { t: 'ready'; worker: number }
  | { t: 'progress'; worker: number; progress: Progress }
  | {
      t: 'synced';
      worker: number;
      /** Per measured proxy: first connect attempt and the ACK that completed its config (epoch ms). */
      proxies: { id: string; connectAt: number; syncedAt: number; bytes: number }[];
      slowSynced: number;
      decode: { responses: number; decoded: number };
    }
  | { t: 'armed'; worker: number; change: number; expected: number; excluded: number }
  | { t: 'converged'; worker: number; report: ConvergenceReport; final: boolean }
  | { t: 'state'; worker: number; proxies: ProxyState[]; decode: { responses: number; decoded: number }; cpu: number; slowConnected: number }
  | { t: 'stopped'; worker: number }
  | { t: 'error'; worker: number; message: string };

/** Coordinator → floor server. */
export type ToFloor =
  | { t: 'init'; protocol: 'sotw' | 'delta'; initial: Partial<Record<TypeKey, Buffer[]>>; pushes: Buffer[] }
  | { t: 'push'; index: number }
  | { t: 'sample' }
  | { t: 'stop' };

/** Floor server → coordinator. */
export type FromFloor =
  | { t: 'listening'; port: number }
  | { t: 'pushed'; index: number; streams: number; startAt: number; endAt: number; blocked: number }
  | { t: 'sample'; heap: number }
  | { t: 'stopped'; acks: number; streams: number };
