/**
 * The floor, coordinator side: capture Switchyard's exact bytes with one
 * Envoy-like client, replay them from a bare grpc-js server to the same fleet
 * shape, and measure the same figures against it.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Catalogue } from './catalogue.js';
import { procSample, settledSample } from './control-plane.js';
import { Fleet, type ProgressLine, SimulationError } from './fleet.js';
import type { FromFloor, ProxySpec, ToFloor, TypeKey } from './messages.js';
import type { ChangeResult, FloorResult } from './result.js';
import { connection, SimProxy } from './proxy.js';
import { StateStore } from './state.js';
import { median, now, percentiles, sleep } from './stats.js';

/** Bytes captured from Switchyard for one client. */
export interface Capture {
  protocol: 'sotw' | 'delta';
  /** Raw responses of the initial sync, per type, in order. */
  initial: Partial<Record<TypeKey, Buffer[]>>;
  /** Raw EDS responses of two health flips (down, then up again), so replaying them alternates versions. */
  pushes: Buffer[];
  edsVersion?: string;
  pushVersions: string[];
}

/**
 * Connects one Envoy-like client (node.cluster g0) to Switchyard, records
 * every raw response until it is synced, then makes two health flips of one
 * endpoint (there and back) and records the EDS push of each.
 */
export async function capture(xds: string, catalogue: Catalogue, protocol: 'sotw' | 'delta', changeIndex: number, timeoutMs: number): Promise<Capture> {
  const store = new StateStore();
  const out: Capture = { protocol, initial: {}, pushes: [], pushVersions: [] };
  let phase: 'initial' | 'push' = 'initial';
  let pushBufs: Buffer[] = [];
  let synced!: () => void;
  let converged!: () => void;
  const syncedP = new Promise<void>((r) => (synced = r));
  let convergedP = Promise.resolve();
  const client = connection(xds);
  const proxy = new SimProxy({ index: 0, id: `sim-capture-${process.pid}`, kind: protocol === 'delta' ? 'envoy-delta' : 'envoy-sotw', group: 'g0' }, client, {
    store,
    ackDelayMs: 0,
    criterion: 'version',
    onSynced: () => synced(),
    onConverged: () => converged(),
    record: (type, buf) => {
      if (phase === 'initial') (out.initial[type] ??= []).push(buf);
      else if (type === 'eds') pushBufs.push(buf);
    },
  });
  // A cleared timer, not a sleep: a pending timer would keep the process alive after the run.
  const within = <T>(p: Promise<T>, what: string) => {
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new SimulationError(`floor capture: ${what} did not happen within ${timeoutMs / 1000} s`)), timeoutMs);
    });
    return Promise.race([p, limit]).finally(() => clearTimeout(timer));
  };
  try {
    proxy.start();
    await within(syncedP, 'initial sync of the capture client');
    out.edsVersion = proxy.state().acked.eds;
    phase = 'push';
    for (let i = 0; i < 2; i++) {
      pushBufs = [];
      convergedP = new Promise<void>((r) => (converged = r));
      proxy.arm(i, ['eds']);
      await catalogue.plan(changeIndex, 'health').write();
      await within(convergedP, 'a health push to the capture client');
      // The push is the last EDS response (one, unless the server split it).
      out.pushes.push(pushBufs[pushBufs.length - 1]);
      out.pushVersions.push(proxy.state().acked.eds!);
    }
  } finally {
    proxy.stop();
    client.close();
  }
  return out;
}

/** The floor server process. */
class FloorProcess {
  private readonly handlers = new Set<(m: FromFloor) => void>();
  private constructor(readonly child: ChildProcess) {
    child.on('message', (m: FromFloor) => {
      for (const h of [...this.handlers]) h(m);
    });
  }

  static async start(data: Extract<ToFloor, { t: 'init' }>): Promise<{ floor: FloorProcess; port: number }> {
    const child = fork(fileURLToPath(new URL('./floor-server.js', import.meta.url)), [], {
      serialization: 'advanced',
      execArgv: ['--enable-source-maps', '--expose-gc'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const floor = new FloorProcess(child);
    const listening = floor.next('listening', 30_000);
    child.send(data);
    return { floor, port: (await listening).port };
  }

  next<T extends FromFloor['t']>(t: T, timeoutMs: number): Promise<Extract<FromFloor, { t: T }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.handlers.delete(h);
        this.child.off('exit', exit);
        reject(new SimulationError(`floor server did not answer ${t} within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      const exit = () => {
        clearTimeout(timer);
        this.handlers.delete(h);
        reject(new SimulationError('floor server exited'));
      };
      const h = (m: FromFloor) => {
        if (m.t !== t) return;
        clearTimeout(timer);
        this.handlers.delete(h);
        this.child.off('exit', exit);
        resolve(m as Extract<FromFloor, { t: T }>);
      };
      this.handlers.add(h);
      this.child.once('exit', exit);
    });
  }

  /** V8 heap in use in the floor process. */
  async heap(): Promise<number> {
    const reply = this.next('sample', 10_000);
    this.send({ t: 'sample' });
    return (await reply).heap;
  }

  send(m: ToFloor): void {
    this.child.send(m);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    const t = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    if (this.child.connected) this.send({ t: 'stop' });
    else this.child.kill('SIGTERM');
    await exited;
    clearTimeout(t);
  }
}

export interface FloorRunOptions {
  specs: ProxySpec[];
  workers: number;
  connectRate: number;
  streamsPerConnection: number;
  ackDelayMs: number;
  pushes: number;
  intervalMs: number;
  timeoutMs: number;
  proxyState: boolean;
  /** Switchyard's figures to compare with. */
  switchyard: { changes: ChangeResult[]; rssPerProxy: number };
}

/**
 * Runs the same fleet (same count, connections and schedule; every proxy
 * Envoy-like on the captured protocol, since only those bytes exist) against
 * the floor server, in fresh worker processes so neither phase starts warm.
 */
export async function runFloor(cap: Capture, o: FloorRunOptions, progress: ProgressLine): Promise<FloorResult> {
  const kind = cap.protocol === 'delta' ? 'envoy-delta' : 'envoy-sotw';
  const specs: ProxySpec[] = o.specs.map((s) => ({ index: s.index, id: s.id, kind, group: s.group ?? 'g0' }));
  const { floor, port } = await FloorProcess.start({ t: 'init', protocol: cap.protocol, initial: cap.initial, pushes: cap.pushes });
  let fleet: Fleet | undefined;
  try {
    await sleep(500);
    // Heap first: the floor collects garbage before answering, so RSS is read after a full GC.
    const read = async () => {
      const heap = await floor.heap();
      return { rss: procSample(floor.child.pid!).rss, heap, cpu: 0 };
    };
    const { rss: idleRss, heap: idleHeap } = await settledSample(read);
    fleet = await Fleet.launch(Math.min(o.workers, specs.length));
    const f = fleet;
    const start = now() + 300;
    f.start(specs, { target: `127.0.0.1:${port}`, start, connectRate: o.connectRate, streamsPerConnection: o.streamsPerConnection, ackDelayMs: o.ackDelayMs, criterion: 'version' });
    progress.show(() => `floor: ${f.totals().synced}/${specs.length} synced`);
    const synced = (await f.waitSynced(o.timeoutMs)).flatMap((m) => m.proxies);
    const initialSyncSeconds = (Math.max(...synced.map((p) => p.syncedAt)) - start) / 1000;
    await sleep(1000);
    const { rss: syncedRss, heap: syncedHeap } = await settledSample(read);
    const pushes: FloorResult['pushes'] = [];
    for (let i = 0; i < o.pushes; i++) {
      const began = now();
      await f.arm(i, { envoy: ['eds'], grpc: [] });
      const pushed = floor.next('pushed', 30_000);
      // Alternate down/up, so every push changes the version the proxies hold.
      floor.send({ t: 'push', index: i % 2 });
      const p = await pushed;
      progress.show(() => `floor: push ${i + 1}/${o.pushes}, ${f.totals().converged}/${specs.length} converged`);
      const { report, complete } = await f.waitConverged(i, o.timeoutMs);
      if (!complete) throw new SimulationError(`floor push ${i}: ${report.expected - report.converged} proxies did not ACK within ${o.timeoutMs / 1000} s`);
      const last = Math.max(...report.times);
      pushes.push({ index: i, fanOutMs: last - report.firstRecv, convergenceMs: last - p.startAt, writeLoopMs: p.endAt - p.startAt, blocked: p.blocked, bytes: report.bytes });
      await sleep(Math.max(0, began + o.intervalMs - now()));
    }
    const state = await f.state();
    const fanOutMs = percentiles(pushes.map((p) => p.fanOutMs));
    const rssPerStream = (syncedRss - idleRss) / specs.length;
    // Compare like with like: Switchyard's health pushes (one EDS resource changed) with the replayed health pushes.
    const health = o.switchyard.changes.filter((c) => c.kind === 'health').map((c) => c.fanOutMs);
    return {
      protocol: cap.protocol,
      proxies: specs.length,
      captured: {
        initialBytes: Object.fromEntries(Object.entries(cap.initial).map(([k, v]) => [k, v!.reduce((a, b) => a + b.length, 0)])),
        pushBytes: cap.pushes.map((b) => b.length),
        edsVersion: cap.edsVersion,
        pushVersions: cap.pushVersions,
      },
      initialSyncSeconds,
      perProxySyncMs: percentiles(synced.map((p) => p.syncedAt - p.connectAt)),
      memory: { idleRss, syncedRss, rssPerStream, idleHeap, syncedHeap, heapPerStream: (syncedHeap - idleHeap) / specs.length },
      pushes,
      fanOutMs,
      ratios: { fanOut: median(health) / fanOutMs.p50, memory: o.switchyard.rssPerProxy / rssPerStream },
      edsVersions: [...new Set(state.proxies.map((p) => p.acked.eds ?? ''))],
      ...(o.proxyState ? { proxyState: state.proxies } : {}),
    };
  } finally {
    await fleet?.stop();
    await floor.stop();
  }
}
