/** The figures a simulation produces (also what --json writes). */
import os from 'node:os';
import type { ResourceSample } from './control-plane.js';
import type { ProxyState, TypeKey } from './messages.js';
import type { ChangeKind, ClientKind, SimOptions } from './options.js';
import { median, type Percentiles, percentiles } from './stats.js';

/** One change of the change script, as measured. */
export interface ChangeResult {
  index: number;
  kind: ChangeKind;
  target: string;
  /** Proxies that had to converge, and those the change does not reach (grpc-like proxies of other hosts). */
  expected: number;
  excluded: number;
  converged: number;
  /** Time the API write took (request sent → response). */
  writeMs: number;
  /** Last proxy converged − t0 (the write's HTTP response). */
  convergenceMs: number;
  /** Client side: last converging ACK − first changed response received. */
  fanOutMs: number;
  /** Per-proxy convergence (convergedAt − t0). */
  perProxyMs: Percentiles;
  /** Response bytes the measured proxies received for this change. */
  bytes: number;
  bytesPerProxy: number;
  /** Changed responses of types the change should not touch (should be 0). */
  unexpected: number;
}

/** The bare grpc-js server replaying Switchyard's bytes. */
export interface FloorResult {
  protocol: 'sotw' | 'delta';
  proxies: number;
  /** What was captured from Switchyard (bytes per type; EDS version after the initial sync). */
  captured: { initialBytes: Partial<Record<TypeKey, number>>; pushBytes: number[]; edsVersion?: string; pushVersions: string[] };
  initialSyncSeconds: number;
  perProxySyncMs: Percentiles;
  /** RSS from /proc (the compared figure) and V8 heap in use, idle and with every stream synced. */
  memory: { idleRss: number; syncedRss: number; rssPerStream: number; idleHeap: number; syncedHeap: number; heapPerStream: number };
  pushes: { index: number; fanOutMs: number; convergenceMs: number; writeLoopMs: number; blocked: number; bytes: number }[];
  fanOutMs: Percentiles;
  /** Switchyard / floor: median fan-out of health pushes, memory per proxy. */
  ratios: { fanOut: number; memory: number };
  /** EDS version each floor proxy ACKed last (same as Switchyard's after an even number of pushes). */
  edsVersions: string[];
  proxyState?: ProxyState[];
}

/** One whole measurement (fresh control plane when spawned). */
export interface RunResult {
  run: number;
  error?: string;
  controlPlane: { mode: 'spawned' | 'external'; api: string; xds: string; pid?: number };
  catalogue: { services: number; endpointsPerService: number; groups: number; listeners: number; resources: number; batches: number; seedSeconds: number };
  fleet: {
    proxies: number;
    slow: number;
    workers: number;
    kinds: Record<ClientKind, number>;
    streamsPerConnection: number;
    connections: number;
    connectRate: number;
    /** Responses received, and how many had to be decoded (the rest came from the per-worker decode cache). */
    decodeCache: { responses: number; decoded: number };
    /** CPU seconds each worker used (the simulator's own load). */
    workerCpuSeconds: number[];
    /** Wall time the fleet ran, to turn worker CPU into utilisation. */
    wallSeconds: number;
  };
  initialSync?: { seconds: number; perProxyMs: Percentiles; cpuSeconds: number; bytesTotal: number; bytesPerProxy: number; retries: Record<string, number> };
  memory?: { idle: ResourceSample; synced: ResourceSample; afterChanges?: ResourceSample; rssPerProxy: number; heapPerProxy: number };
  changes: ChangeResult[];
  convergence?: {
    perChangeMs: Percentiles;
    perProxyMs: Percentiles;
    fanOutMs: Percentiles;
    changePhaseCpuSeconds: number;
    cpuSecondsPerPush: number;
    bytesPerPush: number;
    bytesPerProxyPerPush: number;
  };
  slow?: { count: number; synced: number; connectedAtEnd: number };
  /** Last ACKed version per type of every measured proxy at the end of the change phase. */
  proxyState?: ProxyState[];
  floor?: FloorResult;
}

/** What runSimulation returns. */
export interface SimulationResult {
  ok: boolean;
  error?: string;
  options: SimOptions;
  machine: { cpu: string; cores: number; memoryBytes: number; node: string; platform: string; date: string };
  runs: RunResult[];
  /** Medians across runs of the headline figures (flat, for comparing runs and builds). */
  summary: Record<string, number>;
}

export function machine(): SimulationResult['machine'] {
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memoryBytes: os.totalmem(),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    date: new Date().toISOString(),
  };
}

/** Headline figures of one run, flat. */
function headline(r: RunResult): Record<string, number> {
  const out: Record<string, number | undefined> = {
    initialSyncSeconds: r.initialSync?.seconds,
    syncPerProxyP50Ms: r.initialSync?.perProxyMs.p50,
    syncPerProxyP99Ms: r.initialSync?.perProxyMs.p99,
    initialSyncCpuSeconds: r.initialSync?.cpuSeconds,
    initialSyncBytesPerProxy: r.initialSync?.bytesPerProxy,
    convergenceP50Ms: r.convergence?.perChangeMs.p50,
    convergenceP90Ms: r.convergence?.perChangeMs.p90,
    convergenceP99Ms: r.convergence?.perChangeMs.p99,
    convergenceMaxMs: r.convergence?.perChangeMs.max,
    proxyConvergenceP50Ms: r.convergence?.perProxyMs.p50,
    proxyConvergenceP99Ms: r.convergence?.perProxyMs.p99,
    fanOutP50Ms: r.convergence?.fanOutMs.p50,
    fanOutMaxMs: r.convergence?.fanOutMs.max,
    cpuSecondsPerPush: r.convergence?.cpuSecondsPerPush,
    bytesPerPush: r.convergence?.bytesPerPush,
    bytesPerProxyPerPush: r.convergence?.bytesPerProxyPerPush,
    idleRssBytes: r.memory?.idle.rss,
    syncedRssBytes: r.memory?.synced.rss,
    afterChangesRssBytes: r.memory?.afterChanges?.rss,
    rssPerProxyBytes: r.memory?.rssPerProxy,
    heapPerProxyBytes: r.memory?.heapPerProxy,
    floorInitialSyncSeconds: r.floor?.initialSyncSeconds,
    floorFanOutP50Ms: r.floor?.fanOutMs.p50,
    floorRssPerStreamBytes: r.floor?.memory.rssPerStream,
    floorHeapPerStreamBytes: r.floor?.memory.heapPerStream,
    fanOutRatio: r.floor?.ratios.fanOut,
    memoryRatio: r.floor?.ratios.memory,
  };
  // Goals are per change kind (a health flip and a weight change differ by two orders of magnitude in bytes).
  for (const kind of new Set((r.changes ?? []).map((c) => c.kind))) {
    const p = percentiles(r.changes!.filter((c) => c.kind === kind).map((c) => c.convergenceMs));
    out[`convergenceP50Ms.${kind}`] = p.p50;
    out[`convergenceP99Ms.${kind}`] = p.p99;
  }
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined && Number.isFinite(v))) as Record<string, number>;
}

/** Median of every headline figure over the runs that have it. */
export function summarize(runs: RunResult[]): Record<string, number> {
  const all = runs.map(headline);
  const keys = [...new Set(all.flatMap((h) => Object.keys(h)))];
  return Object.fromEntries(keys.map((k) => [k, median(all.map((h) => h[k]).filter((v) => v !== undefined))]));
}
