/**
 * Config centre fan-out benchmark: N config watchers (real gRPC
 * switchyard.v1.Configs/Watch streams, one instance id each) on one spawned
 * control-plane process, then a few config changes, each fanned out to all
 * of them. Reports per-watcher delivery latency (receive time in the watcher
 * process − the time the PUT was sent), fan-out time (last receive − first
 * receive), control-plane CPU per change, and control-plane RSS per watcher.
 * Then the same against the floor, a bare grpc-js server writing the same
 * bytes (--no-floor skips it), for ratios that carry over to other machines.
 *
 *   npm run bench -- config-fanout [--watchers 10000] [--workers 4] [--per-channel 100] [--changes 5]
 *       [--gap-ms 2000] [--debounce-ms 100] [--timeout-s 180] [--no-floor] [--json FILE]
 *
 * FANOUT_WATCHERS=500 sets --watchers too (a quick smoke run). The watchers
 * live in forked worker processes (this same file, started with
 * FANOUT_WORKER set; the floor with FANOUT_FLOOR), so the server's RSS holds
 * only its side of the streams; all processes share the machine.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import type { MethodDefinition } from '@grpc/proto-loader';
import { configDefinition } from '../src/config-centre/codec.js';
import { freePort, procSample, settledSample, spawnControlPlane, type ControlPlane, type ResourceSample } from '../tools/simulate/control-plane.js';
import { ProgressLine } from '../tools/simulate/fleet.js';
import { connection } from '../tools/simulate/proxy.js';
import { fmtBytes, fmtMs } from '../tools/simulate/report.js';
import { median, now, percentiles, sleep, type Percentiles } from '../tools/simulate/stats.js';

const NAMESPACE = 'bench';
const GROUP = 'g';
const NAME = 'app.yaml';
const WATCH = '/switchyard.v1.Configs/Watch';

/** Coordinator → worker. */
type ToWorker = { t: 'open'; target: string; first: number; count: number; perChannel: number } | { t: 'collect'; revision: number } | { t: 'stop' };
/** Worker → coordinator. `at[i]`: when local watcher i received the revision (epoch ms, NaN if not yet). */
type FromWorker =
  | { t: 'ready' }
  | { t: 'progress'; worker: number; open: number; failed: Record<string, number>; cpu: number }
  | { t: 'delivered'; worker: number; revision: number; at: Float64Array; complete: boolean };

// ---------------------------------------------------------------- worker side

function runWorker(): void {
  const id = Number(process.env.FANOUT_WORKER);
  const method = (configDefinition()['switchyard.v1.Configs'] as unknown as Record<string, MethodDefinition<object, { name: string; revision: number; synced: boolean }>>).Watch;
  const send = (m: FromWorker) => process.send!(m);
  const clients: grpc.Client[] = [];
  const calls: grpc.ClientReadableStream<unknown>[] = [];
  const failed: Record<string, number> = {};
  /** Per revision seen: receive time of each local watcher, and how many are still missing it. */
  const got = new Map<number, { at: Float64Array; left: number }>();
  let count = 0;
  let open = 0;
  let timer: NodeJS.Timeout | undefined;
  const cpu = ({ user, system } = process.cpuUsage()) => (user + system) / 1e6;

  const received = (i: number, at: number, revision: number) => {
    let r = got.get(revision);
    if (!r) got.set(revision, (r = { at: new Float64Array(count).fill(NaN), left: count }));
    if (!Number.isNaN(r.at[i])) return;
    r.at[i] = at;
    // The whole array goes once, when the last local watcher has it: no per-message IPC in the measured window.
    if (--r.left === 0) send({ t: 'delivered', worker: id, revision, at: r.at, complete: true });
  };

  const openAll = (m: Extract<ToWorker, { t: 'open' }>) => {
    count = m.count;
    let client: grpc.Client | undefined;
    for (let i = 0; i < m.count; i++) {
      // One grpc.Client per `perChannel` streams; connection() uses a local subchannel pool, so each is its own HTTP/2 connection.
      if (i % m.perChannel === 0) clients.push((client = connection(m.target)));
      const req = { namespace: NAMESPACE, group: GROUP, names: [NAME], instanceId: `bench-${m.first + i}`, labels: {}, knownRevisions: {} };
      // Deserialize ourselves, after taking the receive time, so decoding is not in the latency.
      const call = client!.makeServerStreamRequest(WATCH, method.requestSerialize, (b: Buffer) => b, req);
      open++;
      call.on('data', (b: Buffer) => {
        const at = now();
        const u = method.responseDeserialize(b);
        if (!u.synced && u.name === NAME) received(i, at, u.revision);
      });
      call.on('error', (e: grpc.ServiceError) => {
        open--;
        failed[e.code] = (failed[e.code] ?? 0) + 1;
      });
      calls.push(call);
    }
    timer = setInterval(() => send({ t: 'progress', worker: id, open, failed, cpu: cpu() }), 1000);
  };

  const stop = () => {
    clearInterval(timer);
    for (const c of calls) c.cancel();
    for (const c of clients) c.close();
    calls.length = clients.length = 0;
  };
  process.on('message', (m: ToWorker) => {
    if (m.t === 'open') openAll(m);
    else if (m.t === 'collect') send({ t: 'delivered', worker: id, revision: m.revision, at: got.get(m.revision)?.at ?? new Float64Array(count).fill(NaN), complete: false });
    else if (m.t === 'stop') (stop(), process.disconnect());
  });
  // The coordinator went away: close the streams and leave.
  process.on('disconnect', () => {
    stop();
    setTimeout(() => process.exit(0), 1000).unref();
  });
  send({ t: 'ready' });
}

// ----------------------------------------------------------- coordinator side

const argv = process.argv.slice(3);
const opt = (name: string, def: number, env?: string): number => {
  const i = argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(argv[i + 1]) : env && process.env[env] ? Number(process.env[env]) : def;
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name}: not a number: ${i >= 0 ? argv[i + 1] : process.env[env!]}`);
  return v;
};

/** The workers, and the delivery arrays they send, gathered per revision. */
class Workers {
  private readonly arrived = new Map<number, Map<number, FromWorker & { t: 'delivered' }>>();
  private readonly progress = new Map<number, FromWorker & { t: 'progress' }>();
  private notify = () => undefined as void;
  private dead?: Error;

  constructor(private readonly children: ChildProcess[]) {
    children.forEach((c, i) => {
      c.on('exit', (code, signal) => {
        this.dead ??= new Error(`worker ${i} exited (${signal ?? `code ${code}`})`);
        this.notify();
      });
      c.on('message', (m: FromWorker) => {
        if (m.t === 'progress') this.progress.set(m.worker, m);
        if (m.t !== 'delivered') return;
        let per = this.arrived.get(m.revision);
        if (!per) this.arrived.set(m.revision, (per = new Map()));
        if (!per.get(m.worker)?.complete) per.set(m.worker, m);
        this.notify();
      });
    });
  }

  static async launch(n: number): Promise<Workers> {
    const children = Array.from({ length: n }, (_, i) =>
      fork(fileURLToPath(import.meta.url), [], { serialization: 'advanced', execArgv: ['--enable-source-maps'], env: { ...process.env, FANOUT_WORKER: String(i) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
    );
    await Promise.all(children.map((c) => new Promise<void>((resolve, reject) => (c.once('message', () => resolve()), c.once('exit', () => reject(new Error('a worker exited while starting')))))));
    return new Workers(children);
  }

  /** Opens `total` watchers, split evenly, with global instance indices. */
  open(target: string, total: number, perChannel: number): void {
    const n = this.children.length;
    let first = 0;
    this.children.forEach((c, i) => {
      const count = Math.floor(total / n) + (i < total % n ? 1 : 0);
      c.send({ t: 'open', target, first, count, perChannel } satisfies ToWorker);
      first += count;
    });
  }

  totals(): { open: number; failed: Record<string, number>; cpu: number } {
    const t = { open: 0, failed: {} as Record<string, number>, cpu: 0 };
    for (const p of this.progress.values()) {
      t.open += p.open;
      t.cpu += p.cpu;
      for (const [k, v] of Object.entries(p.failed)) t.failed[k] = (t.failed[k] ?? 0) + v;
    }
    return t;
  }

  /** Receive times of every watcher for `revision`; at the deadline, what there is (NaN = missing). */
  async delivered(revision: number, timeoutMs: number): Promise<{ at: number[]; complete: boolean }> {
    const done = () => [...(this.arrived.get(revision)?.values() ?? [])].filter((m) => m.complete).length === this.children.length;
    const end = Date.now() + timeoutMs;
    while (!done() && !this.dead && Date.now() < end) await new Promise<void>((r) => ((this.notify = r), setTimeout(r, 200)));
    if (this.dead) throw this.dead;
    const complete = done();
    if (!complete) {
      for (const c of this.children) c.send({ t: 'collect', revision } satisfies ToWorker);
      while ((this.arrived.get(revision)?.size ?? 0) < this.children.length && !this.dead) await new Promise<void>((r) => ((this.notify = r), setTimeout(r, 200)));
    }
    const per = this.arrived.get(revision)!;
    this.arrived.delete(revision);
    return { at: [...per.values()].flatMap((m) => [...m.at]), complete };
  }

  async stop(): Promise<void> {
    await Promise.all(this.children.map((c) => new Promise<void>((resolve) => {
      if (c.exitCode !== null || c.signalCode !== null) return resolve();
      const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
      c.once('exit', () => (clearTimeout(t), resolve()));
      if (c.connected) c.send({ t: 'stop' } satisfies ToWorker);
      else c.kill('SIGTERM');
    })));
  }
}

/** The server under test as a phase sees it: Switchyard, or the bare grpc-js floor. */
interface Target {
  label: string;
  /** host:port of switchyard.v1.Configs. */
  grpc: string;
  pid: number;
  /** The revision watchers get on connecting. */
  initial: number;
  /** RSS (and heap) after a forced full GC in that process. */
  sample(): Promise<ResourceSample>;
  /** Change number c (1, 2, …): the revision it makes, when it was asked for, and how long the asking took. */
  change(c: number): Promise<{ revision: number; sentAt: number; putMs: number }>;
  stop(): Promise<void>;
}

/** One change's outcome. */
interface ChangeResult {
  revision: number;
  received: number;
  /** PUT sent → its response (the floor: push asked → its write loop done), ms. */
  putMs: number;
  /** Per watcher: receive − PUT sent, ms. */
  latency: Percentiles;
  /** First receive − PUT sent, ms: debounce, the feed step and the hub's pass over every watcher come before any byte leaves. */
  firstMs: number;
  /** Last receive − first receive, ms. */
  fanOutMs: number;
  /** Server CPU seconds from the PUT until the coordinator knew all had it, and over the whole gap after it. */
  cpuToDelivered: number;
  cpuWindow: number;
}

/** Options of a run: watchers, worker processes, streams per connection, changes, ms between changes, ms to wait for a delivery. */
type Opts = Record<'n' | 'workers' | 'perChannel' | 'changes' | 'gapMs' | 'timeoutMs', number>;

/** Opens N watchers on `t`, waits until all hold its initial revision, reads memory, then makes the changes. */
async function measure(t: Target, o: Opts, line: ProgressLine) {
  // Memory is read after a forced full GC (SIGUSR2 with --expose-gc, see tools/simulate/gc-hook.ts): median of 5, one second apart, after 3 s of quiet.
  const settle = async () => (await sleep(3000), settledSample(() => t.sample(), 5, 1000));
  const idle = await settle();
  line.note(`${t.label} (pid ${t.pid}): idle RSS ${fmtBytes(idle.rss)}`);
  const w = await Workers.launch(o.workers);
  try {
    line.show(() => {
      const x = w.totals();
      const f = Object.entries(x.failed).map(([k, v]) => `code ${k}×${v}`).join(' ');
      return `${t.label}: ${x.open} streams open${f ? `, failed ${f}` : ''}, RSS ${fmtBytes(procSample(t.pid).rss)}`;
    });
    const openAt = now();
    w.open(t.grpc, o.n, o.perChannel);
    const sync = await w.delivered(t.initial, o.timeoutMs);
    if (!sync.complete) throw new Error(`${sync.at.filter((x) => Number.isNaN(x)).length} of ${o.n} watchers did not get revision ${t.initial} from ${t.label} within ${o.timeoutMs / 1000} s (${JSON.stringify(w.totals())})`);
    const syncMs = Math.max(...sync.at) - openAt;
    const synced = await settle();
    line.note(`${t.label}: ${o.n} watchers synced in ${fmtMs(syncMs)}; RSS ${fmtBytes(synced.rss)}, ${fmtBytes((synced.rss - idle.rss) / o.n)} per watcher`);
    // CPU with every stream open and nothing changing: the baseline of the per-change CPU figures.
    const quiet0 = procSample(t.pid).cpu;
    await sleep(o.gapMs);
    const idleCpuPerGap = procSample(t.pid).cpu - quiet0;
    const changes: ChangeResult[] = [];
    let complete = true;
    for (let c = 1; c <= o.changes; c++) {
      const cpu0 = procSample(t.pid).cpu;
      const p = await t.change(c);
      const d = await w.delivered(p.revision, o.timeoutMs);
      const cpuToDelivered = procSample(t.pid).cpu - cpu0;
      const got = d.at.filter((x) => Number.isFinite(x));
      complete &&= d.complete;
      await sleep(Math.max(0, o.gapMs - (now() - p.sentAt)));
      const [first, last] = [Math.min(...got), Math.max(...got)];
      const latency = percentiles(got.map((x) => x - p.sentAt));
      const r: ChangeResult = { revision: p.revision, received: got.length, putMs: p.putMs, latency, firstMs: first - p.sentAt, fanOutMs: last - first, cpuToDelivered, cpuWindow: procSample(t.pid).cpu - cpu0 };
      changes.push(r);
      line.note(
        `${t.label} change ${c} (revision ${r.revision}): ${r.received}/${o.n} received; latency p50 ${fmtMs(r.latency.p50)} p99 ${fmtMs(r.latency.p99)} max ${fmtMs(r.latency.max)}; ` +
          `first ${fmtMs(r.firstMs)}, fan-out ${fmtMs(r.fanOutMs)}; write ${fmtMs(r.putMs)}; CPU ${r.cpuToDelivered.toFixed(3)} s to delivered, ${r.cpuWindow.toFixed(3)} s over ${o.gapMs / 1000} s`,
      );
    }
    const m = (f: (r: ChangeResult) => number) => median(changes.map(f));
    const medians = { p50: m((r) => r.latency.p50), p99: m((r) => r.latency.p99), max: m((r) => r.latency.max), firstMs: m((r) => r.firstMs), fanOutMs: m((r) => r.fanOutMs), putMs: m((r) => r.putMs), cpuToDelivered: m((r) => r.cpuToDelivered), cpuWindow: m((r) => r.cpuWindow) };
    return { complete, syncMs, idle, synced, rssPerWatcher: (synced.rss - idle.rss) / o.n, heapPerWatcher: (synced.heap - idle.heap) / o.n, idleCpuPerGap, medians, changes, workerCpu: w.totals().cpu };
  } finally {
    line.stop();
    await w.stop();
  }
}

/** Switchyard on free ports with the embedded database in memory (tools/simulate's spawner), and a first config revision. */
async function switchyard(debounceMs: number): Promise<Target> {
  const grpcPort = await freePort();
  // spawnControlPlane picks PORT and XDS_PORT; Configs is on the management gRPC port, so that one is ours to know.
  const cp: ControlPlane = await spawnControlPlane({ debounceMs, env: { GRPC_PORT: String(grpcPort) }, timeoutMs: 120_000 });
  const put = async (content: string) => {
    const sentAt = now();
    const res = await fetch(`${cp.api}/api/v1/configs/${NAMESPACE}/${GROUP}/${NAME}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ spec: { format: 'yaml', content } }) });
    const body = (await res.json()) as { version?: number };
    if (!res.ok || typeof body.version !== 'number') throw new Error(`PUT answered ${res.status}: ${JSON.stringify(body)}`);
    return { revision: body.version, sentAt, putMs: now() - sentAt };
  };
  try {
    const first = await put(content(0));
    return { label: 'switchyard', grpc: `127.0.0.1:${grpcPort}`, pid: cp.pid!, initial: first.revision, sample: () => cp.sample(), change: (c) => put(content(c)), stop: () => cp.stop() };
  } catch (e) {
    await cp.stop();
    throw e;
  }
}

/** The floor process (this file with FANOUT_FLOOR set), listening. */
async function floor(): Promise<Target> {
  const child = fork(fileURLToPath(import.meta.url), [], { serialization: 'advanced', execArgv: ['--enable-source-maps', '--expose-gc'], env: { ...process.env, FANOUT_FLOOR: '1' }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ask = <T extends FromFloor['t']>(m: ToFloor | undefined, t: T) =>
    new Promise<Extract<FromFloor, { t: T }>>((resolve, reject) => {
      const on = (x: FromFloor) => x.t === t && (child.off('message', on), child.off('exit', fail), resolve(x as Extract<FromFloor, { t: T }>));
      const fail = () => reject(new Error('the floor exited'));
      child.on('message', on);
      child.once('exit', fail);
      if (m) child.send(m);
    });
  const { port } = await ask(undefined, 'listening');
  const exited = new Promise((r) => child.once('exit', r));
  return {
    label: 'floor',
    grpc: `127.0.0.1:${port}`,
    pid: child.pid!,
    initial: 1,
    sample: async () => ({ ...procSample(child.pid!), heap: (await ask({ t: 'gc' }, 'gc')).heap }),
    async change(c) {
      const sentAt = now();
      const r = await ask({ t: 'push', revision: c + 1 }, 'pushed');
      return { revision: c + 1, sentAt, putMs: r.endAt - sentAt };
    },
    stop: async () => void (child.kill('SIGTERM'), await exited),
  };
}

/** The same content Switchyard gets PUT for change c, so both servers send messages of the same size. */
const content = (c: number) => `k: ${c}\n`;

type ToFloor = { t: 'push'; revision: number } | { t: 'gc' };
type FromFloor = { t: 'listening'; port: number } | { t: 'pushed'; startAt: number; endAt: number } | { t: 'gc'; heap: number };

/**
 * The floor: a bare grpc-js server with no control-plane logic. Each Watch gets the current
 * update and the synced marker; a push encodes one update and writes the
 * same bytes to every open stream in one loop, as the hub does. What the
 * same watchers measure here is the cost of grpc-js, HTTP/2 and the watchers
 * themselves.
 */
function runFloor(): void {
  const svc = configDefinition()['switchyard.v1.Configs'] as grpc.ServiceDefinition;
  const update = (revision: number): Buffer => svc.Watch.responseSerialize({ namespace: NAMESPACE, group: GROUP, name: NAME, revision, format: 'yaml', content: content(revision - 1), gray: false, deleted: false });
  const marker = svc.Watch.responseSerialize({ synced: true });
  let current = update(1);
  const streams = new Set<grpc.ServerWritableStream<unknown, Buffer>>();
  const send = (m: FromFloor) => process.send!(m);
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 1024 * 1024 });
  server.addService({ Watch: { ...svc.Watch, responseSerialize: (b: Buffer) => b } }, {
    Watch: (call: grpc.ServerWritableStream<unknown, Buffer>) => {
      streams.add(call);
      call.write(current);
      call.write(marker);
      const done = () => streams.delete(call);
      call.on('cancelled', done);
      call.on('close', done);
      call.on('error', done);
    },
  });
  process.on('message', (m: ToFloor) => {
    if (m.t === 'gc') {
      (globalThis as { gc?: () => void }).gc?.();
      send({ t: 'gc', heap: process.memoryUsage().heapUsed });
    } else {
      const startAt = now();
      current = update(m.revision);
      for (const s of streams) s.write(current);
      send({ t: 'pushed', startAt, endAt: now() });
    }
  });
  process.on('disconnect', () => process.exit(0));
  server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err ? (console.error(err), process.exit(1)) : send({ t: 'listening', port })));
}

async function main(): Promise<number> {
  const o: Opts = { n: opt('watchers', 10_000, 'FANOUT_WATCHERS'), workers: opt('workers', 4), perChannel: opt('per-channel', 100), changes: opt('changes', 5), gapMs: opt('gap-ms', 2000), timeoutMs: opt('timeout-s', 180) * 1000 };
  const debounceMs = opt('debounce-ms', 100);
  const jsonAt = argv.indexOf('--json');
  const json = jsonAt >= 0 ? argv[jsonAt + 1] : undefined;
  const line = new ProgressLine(true);

  const sy = await switchyard(debounceMs);
  const s = await measure(sy, o, line).finally(() => sy.stop());
  const fl = argv.includes('--no-floor') ? undefined : await floor();
  const f = fl ? await measure(fl, o, line).finally(() => fl.stop()) : undefined;

  const m = s.medians;
  const ratio = (a: number, b?: number) => (b ? `${(a / b).toFixed(2)}×` : 'n/a');
  const per = (r: typeof s) => `${fmtBytes(r.rssPerWatcher)} per watcher (heap ${fmtBytes(r.heapPerWatcher)}); RSS ${fmtBytes(r.idle.rss)} idle → ${fmtBytes(r.synced.rss)} synced`;
  console.log(
    [
      '',
      `config fan-out: ${o.n} gRPC Watch streams on ${o.workers} worker processes, ${o.perChannel} streams per HTTP/2 connection (${Math.ceil(o.n / o.perChannel)} connections); ${o.changes} changes ${o.gapMs / 1000} s apart; XDS_DEBOUNCE_QUIET_MS=${debounceMs}`,
      `initial sync (open → last watcher has its first revision): ${fmtMs(s.syncMs)}${f ? ` (floor ${fmtMs(f.syncMs)})` : ''}`,
      `memory: ${per(s)}${f ? `\n        floor: ${per(f)}; ratio ${ratio(s.rssPerWatcher, f.rssPerWatcher)}` : ''}`,
      `delivery latency (receive − PUT sent), median over changes: p50 ${fmtMs(m.p50)}  p99 ${fmtMs(m.p99)}  max ${fmtMs(m.max)}  (per change p99: ${s.changes.map((r) => fmtMs(r.latency.p99)).join(' / ')})`,
      `  first receive ${fmtMs(m.firstMs)} after the PUT (PUT response ${fmtMs(m.putMs)})${f ? `; floor (receive − push asked): p50 ${fmtMs(f.medians.p50)} p99 ${fmtMs(f.medians.p99)}, first ${fmtMs(f.medians.firstMs)}` : ''}`,
      `fan-out (last − first receive), median: ${fmtMs(m.fanOutMs)} (${s.changes.map((r) => fmtMs(r.fanOutMs)).join(' / ')})${f ? `; floor ${fmtMs(f.medians.fanOutMs)} → ${ratio(m.fanOutMs, f.medians.fanOutMs)}` : ''}`,
      `control-plane CPU per change, median: ${m.cpuToDelivered.toFixed(3)} s to delivery, ${m.cpuWindow.toFixed(3)} s over the ${o.gapMs / 1000} s after it (idle with all streams open: ${s.idleCpuPerGap.toFixed(3)} s per ${o.gapMs / 1000} s)` +
        (f ? `; floor ${f.medians.cpuWindow.toFixed(3)} s` : ''),
      '',
      `| ${o.n.toLocaleString('en-US')} | ${fmtMs(m.p50)} | **${fmtMs(m.p99)}** | ${fmtMs(m.max)} | ${fmtMs(m.firstMs)} | ${fmtMs(m.fanOutMs)}${f ? ` (${ratio(m.fanOutMs, f.medians.fanOutMs)})` : ''} | **${fmtBytes(s.rssPerWatcher)}**${f ? ` (${fmtBytes(f.rssPerWatcher)})` : ''} | ${fmtBytes(s.idle.rss)} → ${fmtBytes(s.synced.rss)} | ${m.cpuWindow.toFixed(2)} s | ${fmtMs(s.syncMs)} |`,
    ].join('\n'),
  );
  if (json) writeFileSync(json, `${JSON.stringify({ options: { ...o, debounceMs }, switchyard: s, floor: f }, null, 2)}\n`);
  const ok = s.complete && (f?.complete ?? true);
  if (!ok) console.error('some watchers missed a change within the timeout: see the received counts above');
  return ok ? 0 : 1;
}

if (process.env.FANOUT_WORKER !== undefined) runWorker();
else if (process.env.FANOUT_FLOOR !== undefined) runFloor();
else {
  process.once('SIGINT', () => process.exit(130));
  process.exitCode = await main().catch((e) => (console.error(e), 1));
}
