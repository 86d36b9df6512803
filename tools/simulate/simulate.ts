/**
 * runSimulation: the whole measurement. Per run: start (or attach to) a
 * control plane, seed the catalogue, connect the fleet, time the initial sync,
 * run the change script, then capture Switchyard's bytes and measure the floor.
 */
import { ApiError, Catalogue } from './catalogue.js';
import { attachControlPlane, type ControlPlane, settledSample, spawnControlPlane } from './control-plane.js';
import { capture, runFloor } from './floor.js';
import { Fleet, ProgressLine, SimulationError } from './fleet.js';
import type { ProxySpec, ProxyState } from './messages.js';
import { CLIENT_KINDS, type ClientKind, mixCounts, type SimOptions, validateOptions } from './options.js';
import { type ChangeResult, machine, type RunResult, type SimulationResult, summarize } from './result.js';
import { now, percentiles, sleep } from './stats.js';

/** Ways for a caller (tests) to look at the fleet while it is connected. */
export interface SimulationHooks {
  /** Called after the change phase, with every stream still open. */
  afterChanges?(ctx: { run: number; api: string; xds: string; proxyState(): Promise<ProxyState[]> }): Promise<void>;
}

/**
 * Proxy plan: kinds spread evenly along the fleet (so each worker and each
 * part of the connect schedule gets the same mix), Envoy-like proxies spread
 * over the groups, grpc-like proxies over the service hosts.
 */
export function planFleet(o: SimOptions, run: number): { specs: ProxySpec[]; kinds: Record<ClientKind, number> } {
  const kinds = mixCounts(o.mix, o.proxies);
  const given = Object.fromEntries(CLIENT_KINDS.map((k) => [k, 0])) as Record<ClientKind, number>;
  const specs: ProxySpec[] = [];
  for (let i = 0; i < o.proxies; i++) {
    // Smooth weighted round-robin: the kind furthest behind its share goes next.
    let kind: ClientKind = CLIENT_KINDS[0];
    let best = -Infinity;
    for (const k of CLIENT_KINDS) {
      const lag = (kinds[k] * (i + 1)) / o.proxies - given[k];
      if (kinds[k] > given[k] && lag > best) [kind, best] = [k, lag];
    }
    given[kind]++;
    const id = `sim-r${run}-${kind}-${i}`;
    specs.push(kind === 'grpc' ? { index: i, id, kind, host: `svc-${i % o.services}`, service: i % o.services } : { index: i, id, kind, group: `g${i % o.groups}` });
  }
  // Slow proxies: Envoy-like, on the first protocol of the mix, connecting after the measured ones.
  const slowKind: ClientKind = kinds['envoy-sotw'] || !kinds['envoy-delta'] ? 'envoy-sotw' : 'envoy-delta';
  for (let k = 0; k < o.slow; k++) specs.push({ index: o.proxies + k, id: `sim-r${run}-slow-${k}`, kind: slowKind, group: `g${k % o.groups}`, slow: true });
  return { specs, kinds };
}

async function runOnce(o: SimOptions, run: number, hooks: SimulationHooks, progress: ProgressLine): Promise<RunResult> {
  const timeoutMs = o.timeoutS * 1000;
  const { specs, kinds } = planFleet(o, run);
  const measured = specs.filter((s) => !s.slow);
  const workers = Math.min(o.workers, specs.length);
  const r: RunResult = {
    run,
    controlPlane: { mode: o.api ? 'external' : 'spawned', api: o.api ?? '', xds: o.xds ?? '' },
    catalogue: { services: o.services, endpointsPerService: o.endpoints, groups: o.groups, listeners: 0, resources: 0, batches: 0, seedSeconds: 0 },
    fleet: {
      proxies: o.proxies,
      slow: o.slow,
      workers,
      kinds,
      streamsPerConnection: o.streamsPerConnection,
      connections: o.slow + Array.from({ length: workers }, (_, w) => Math.ceil(measured.filter((_, i) => i % workers === w).length / o.streamsPerConnection)).reduce((a, b) => a + b, 0),
      connectRate: o.connectRate,
      decodeCache: { responses: 0, decoded: 0 },
      workerCpuSeconds: [],
      wallSeconds: 0,
    },
    changes: [],
  };
  let cp: ControlPlane | undefined;
  let fleet: Fleet | undefined;
  try {
    progress.note(`run ${run + 1}/${o.runs}: ${o.api ? `attaching to ${o.api}` : 'starting a control plane'}`);
    cp = o.api ? await attachControlPlane(o.api, o.xds!) : await spawnControlPlane({ debounceMs: o.debounceMs, env: o.cpEnv });
    r.controlPlane = { mode: cp.mode, api: cp.api, xds: cp.xds, pid: cp.pid };
    const catalogue = new Catalogue(cp.api, o);
    let seeded = 0;
    progress.show(() => `seeding: ${seeded} resources`);
    const t = now();
    const seed = await catalogue.seed((done) => (seeded = done));
    r.catalogue = { ...r.catalogue, listeners: seed.listeners, resources: seed.resources, batches: seed.batches, seedSeconds: (now() - t) / 1000 };
    progress.note(`seeded ${seed.resources} resources in ${r.catalogue.seedSeconds.toFixed(1)} s`);
    // Let the first rebuild finish before taking the idle baseline.
    await sleep(Math.max(1000, o.debounceMs * 2));
    const idle = await settledSample(() => cp!.sample());

    // Initial sync.
    fleet = await Fleet.launch(workers);
    const f = fleet;
    const start = now() + 300;
    const cpu0 = (await cp.sample()).cpu;
    f.start(specs, { target: cp.xds, start, connectRate: o.connectRate, streamsPerConnection: o.streamsPerConnection, ackDelayMs: o.ackDelayMs, criterion: 'version' });
    progress.show(() => {
      const p = f.totals();
      const failures = Object.values(p.retries).reduce((a, b) => a + b, 0);
      return `initial sync: ${p.connected}/${specs.length} connected, ${p.synced}/${specs.length} synced${failures ? `, ${failures} stream retries` : ''}`;
    });
    const syncMsgs = await f.waitSynced(timeoutMs);
    const synced = syncMsgs.flatMap((m) => m.proxies);
    const cpu1 = (await cp.sample()).cpu;
    const lastSync = Math.max(...synced.map((p) => p.syncedAt));
    const syncBytes = synced.reduce((a, p) => a + p.bytes, 0);
    r.initialSync = {
      seconds: (lastSync - start) / 1000,
      perProxyMs: percentiles(synced.map((p) => p.syncedAt - p.connectAt)),
      cpuSeconds: cpu1 - cpu0,
      bytesTotal: syncBytes,
      bytesPerProxy: syncBytes / synced.length,
      retries: f.totals().retries,
    };
    progress.note(`initial sync: ${synced.length} proxies in ${r.initialSync.seconds.toFixed(2)} s`);
    await sleep(1000);
    const syncedSample = await settledSample(() => cp!.sample());
    r.memory = { idle, synced: syncedSample, rssPerProxy: (syncedSample.rss - idle.rss) / o.proxies, heapPerProxy: (syncedSample.heap - idle.heap) / o.proxies };

    // Change phase.
    const cpuA = (await cp.sample()).cpu;
    const perProxyAll: number[] = [];
    for (let c = 0; c < o.changes; c++) {
      const plan = catalogue.plan(c, o.script[c % o.script.length]);
      const began = now();
      const armed = await f.arm(c, plan.expect);
      progress.show(() => `change ${c + 1}/${o.changes} (${plan.kind} ${plan.target}): ${f.totals().converged}/${armed.expected} converged`);
      const tw = now();
      await plan.write();
      const t0 = now();
      const { report, complete } = await f.waitConverged(c, timeoutMs);
      const last = report.times.length ? Math.max(...report.times) : NaN;
      const ch: ChangeResult = {
        index: c,
        kind: plan.kind,
        target: plan.target,
        expected: report.expected,
        excluded: report.excluded,
        converged: report.converged,
        writeMs: t0 - tw,
        convergenceMs: last - t0,
        fanOutMs: last - report.firstRecv,
        perProxyMs: percentiles(report.times.map((x) => x - t0)),
        bytes: report.bytes,
        bytesPerProxy: report.bytes / Math.max(1, report.expected + report.excluded),
        unexpected: report.unexpected,
      };
      r.changes.push(ch);
      for (const x of report.times) perProxyAll.push(x - t0);
      if (!complete)
        throw new SimulationError(
          `change ${c} (${plan.kind} ${plan.target}): ${report.expected - report.converged} of ${report.expected} proxies did not converge within ${o.timeoutS} s (e.g. ${report.missing.slice(0, 5).join(', ')})`,
        );
      await sleep(Math.max(0, began + o.intervalMs - now()));
    }
    const cpuB = (await cp.sample()).cpu;
    // Again after the changes: with slow proxies holding unread responses, memory must not have grown per change.
    if (r.changes.length) r.memory.afterChanges = await settledSample(() => cp!.sample());
    if (r.changes.length) {
      const bytes = r.changes.reduce((a, ch) => a + ch.bytes, 0) / r.changes.length;
      r.convergence = {
        perChangeMs: percentiles(r.changes.map((ch) => ch.convergenceMs)),
        perProxyMs: percentiles(perProxyAll),
        fanOutMs: percentiles(r.changes.map((ch) => ch.fanOutMs)),
        changePhaseCpuSeconds: cpuB - cpuA,
        cpuSecondsPerPush: (cpuB - cpuA) / r.changes.length,
        bytesPerPush: bytes,
        bytesPerProxyPerPush: bytes / o.proxies,
      };
    }
    await hooks.afterChanges?.({ run, api: cp.api, xds: cp.xds, proxyState: async () => (await f.state()).proxies.filter((p) => !p.slow) });
    const state = await f.state();
    r.slow = { count: o.slow, synced: state.proxies.filter((p) => p.slow && p.synced).length, connectedAtEnd: state.slowConnected };
    r.fleet.decodeCache = state.decode;
    r.fleet.workerCpuSeconds = state.cpu;
    r.fleet.wallSeconds = (now() - start) / 1000;
    if (o.proxyState) r.proxyState = state.proxies.filter((p) => !p.slow);
    await fleet.stop();
    fleet = undefined;

    if (o.floor) {
      const protocol = kinds['envoy-sotw'] || !kinds['envoy-delta'] ? 'sotw' : 'delta';
      progress.note(`floor: capturing Switchyard's ${protocol} bytes`);
      const cap = await capture(cp.xds, catalogue, protocol, o.changes, timeoutMs);
      await cp.stop(); // free the machine for the floor
      cp = undefined;
      r.floor = await runFloor(
        cap,
        {
          specs: measured,
          workers,
          connectRate: o.connectRate,
          streamsPerConnection: o.streamsPerConnection,
          ackDelayMs: o.ackDelayMs,
          pushes: o.changes,
          intervalMs: o.intervalMs,
          timeoutMs,
          proxyState: o.proxyState,
          switchyard: { changes: r.changes, rssPerProxy: r.memory.rssPerProxy },
        },
        progress,
      );
      progress.note(`floor: ${r.floor.proxies} proxies synced in ${r.floor.initialSyncSeconds.toFixed(2)} s`);
    }
  } catch (e) {
    if (!(e instanceof SimulationError || e instanceof ApiError)) throw e;
    r.error = e.message;
  } finally {
    await fleet?.stop();
    await cp?.stop();
  }
  return r;
}

/**
 * Runs the simulation `runs` times and returns every figure. Options are
 * validated first (OptionError, exit code 2); a fleet that does not sync or
 * converge in time gives `ok: false` with the figures measured so far.
 */
export async function runSimulation(input: Partial<SimOptions>, hooks: SimulationHooks = {}): Promise<SimulationResult> {
  const o = validateOptions(input);
  const progress = new ProgressLine(o.progress);
  const runs: RunResult[] = [];
  try {
    for (let run = 0; run < o.runs; run++) {
      const r = await runOnce(o, run, hooks, progress);
      runs.push(r);
      if (r.error) break;
    }
  } finally {
    progress.stop();
  }
  const error = runs.find((r) => r.error)?.error;
  return { ok: !error, ...(error ? { error } : {}), options: o, machine: machine(), runs, summary: summarize(runs.filter((r) => !r.error)) };
}
