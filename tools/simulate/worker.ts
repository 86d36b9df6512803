/**
 * Worker process (forked by the coordinator): holds a share of the simulated
 * fleet, one SimProxy per ADS stream, and reports over IPC. Several workers
 * spread the client-side work over cores, so the control plane, not the
 * simulator, is what gets measured.
 */
import type * as grpc from '@grpc/grpc-js';
import { envoyRoot } from '../../src/xds/cache/envoy-protos.js';
import type { ConvergenceReport, Expectation, FromWorker, Progress, ToWorker, WorkerConfig } from './messages.js';
import { connection, SimProxy } from './proxy.js';
import { StateStore } from './state.js';
import { now } from './stats.js';

const send = (m: FromWorker, then?: () => void) => process.send!(m, undefined, undefined, then);
const store = new StateStore();
let proxies: SimProxy[] = [];
let clients: grpc.Client[] = [];
const progress: Progress = { connected: 0, synced: 0, converged: 0, retries: {}, cpu: 0 };
let measuredSynced = 0;
let measured = 0;
let change: { id: number; remaining: number; reported: boolean } | undefined;
let ticker: NodeJS.Timeout | undefined;
let progressTimer: NodeJS.Timeout | undefined;
let workerId = -1;

const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

function start(c: WorkerConfig): void {
  workerId = c.worker;
  const hooks = {
    store,
    ackDelayMs: c.ackDelayMs,
    criterion: c.criterion,
    onConnected: () => progress.connected++,
    onRetry: (_p: SimProxy, code: string) => {
      progress.retries[code] = (progress.retries[code] ?? 0) + 1;
    },
    onSynced: (p: SimProxy) => {
      progress.synced++;
      if (!p.spec.slow && ++measuredSynced === measured) reportSynced();
    },
    onConverged: () => {
      progress.converged++;
      if (change && --change.remaining === 0) report(true);
    },
  };
  // K proxies share one connection; slow proxies get their own, so their stalled
  // streams do not eat the connection window of measured ones.
  let shared: grpc.Client | undefined;
  let onShared = 0;
  for (const spec of c.proxies) {
    let client: grpc.Client;
    if (spec.slow) clients.push((client = connection(c.target)));
    else {
      if (!shared || onShared >= c.streamsPerConnection) {
        clients.push((shared = connection(c.target)));
        onShared = 0;
      }
      onShared++;
      client = shared;
    }
    proxies.push(new SimProxy(spec, client, hooks));
  }
  measured = proxies.filter((p) => !p.spec.slow).length;
  if (measured === 0) reportSynced();
  // Connect on the fleet-wide schedule: proxy i at start + i / rate.
  const due = (p: SimProxy) => c.start + (c.connectRate > 0 ? (p.spec.index * 1000) / c.connectRate : 0);
  const queue = [...proxies].sort((a, b) => due(a) - due(b));
  let next = 0;
  const tick = () => {
    const t = now();
    while (next < queue.length && due(queue[next]) <= t) queue[next++].start();
    if (next < queue.length) ticker = setTimeout(tick, Math.max(1, Math.min(20, due(queue[next]) - t)));
  };
  ticker = setTimeout(tick, Math.max(0, c.start - now()));
  progressTimer = setInterval(() => {
    progress.cpu = cpu();
    send({ t: 'progress', worker: workerId, progress });
  }, 500);
}

function reportSynced(): void {
  const list = proxies.filter((p) => !p.spec.slow);
  send({
    t: 'synced',
    worker: workerId,
    proxies: list.map((p) => ({ id: p.spec.id, connectAt: p.connectAt!, syncedAt: p.syncedAt!, bytes: p.bytesAtSync })),
    slowSynced: proxies.filter((p) => p.spec.slow && p.syncedAt !== undefined).length,
    decode: { ...store.stats },
  });
}

function arm(id: number, expect: Expectation): void {
  let expected = 0;
  let excluded = 0;
  for (const p of proxies) {
    if (p.spec.slow) continue;
    const types = p.spec.kind === 'grpc' ? (p.spec.service === expect.grpcService ? expect.grpc : []) : expect.envoy;
    p.arm(id, types);
    if (types.length) expected++;
    else excluded++;
  }
  progress.converged = 0;
  change = { id, remaining: expected, reported: false };
  send({ t: 'armed', worker: workerId, change: id, expected, excluded });
  if (expected === 0) report(true);
}

function report(final: boolean): void {
  if (!change || (change.reported && final)) return;
  if (final) change.reported = true;
  const r: ConvergenceReport = { change: change.id, expected: 0, converged: 0, excluded: 0, times: [], firstRecv: Infinity, bytes: 0, unexpected: 0, missing: [] };
  for (const p of proxies) {
    const a = p.armed;
    if (p.spec.slow || !a || a.change !== change.id) continue;
    r.bytes += p.bytes - a.bytesAtArm;
    r.unexpected += a.unexpected;
    if (!a.expect.length) {
      r.excluded++;
      continue;
    }
    r.expected++;
    if (a.firstRecv !== undefined) r.firstRecv = Math.min(r.firstRecv, a.firstRecv);
    if (a.convergedAt !== undefined) {
      r.converged++;
      r.times.push(a.convergedAt);
    } else if (r.missing.length < 10) r.missing.push(p.spec.id);
  }
  send({ t: 'converged', worker: workerId, report: r, final });
}

function state(): void {
  send({
    t: 'state',
    worker: workerId,
    proxies: proxies.map((p) => p.state()),
    decode: { ...store.stats },
    cpu: cpu(),
    slowConnected: proxies.filter((p) => p.spec.slow && p.connected).length,
  });
}

function stop(): void {
  clearTimeout(ticker);
  clearInterval(progressTimer);
  for (const p of proxies) p.stop();
  for (const c of clients) c.close();
  proxies = [];
  clients = [];
}

process.on('message', (m: ToWorker) => {
  try {
    if (m.t === 'start') start(m.config);
    else if (m.t === 'arm') arm(m.change, m.expect);
    else if (m.t === 'collect') report(false);
    else if (m.t === 'state') state();
    else if (m.t === 'stop') {
      stop();
      send({ t: 'stopped', worker: workerId }, () => process.disconnect());
    }
  } catch (e) {
    send({ t: 'error', worker: workerId, message: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  }
});
// The coordinator went away (or let us go): close everything so the process can exit.
process.on('disconnect', () => {
  stop();
  setTimeout(() => process.exit(0), 2000).unref();
});

envoyRoot(); // load the protos before the clock starts
send({ t: 'ready', worker: Number(process.env.SIM_WORKER ?? -1) });
