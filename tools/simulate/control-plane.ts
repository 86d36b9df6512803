/**
 * The control plane under test: a Switchyard process spawned for the run, or
 * an existing one given by URL. Either way it is sampled for memory and CPU.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PACKAGE_ROOT } from '../../src/common/paths.js';
import { sleep } from './stats.js';

/** One reading of a process's resources. */
export interface ResourceSample {
  /** Resident set size, bytes. */
  rss: number;
  /** V8 heap in use, bytes (NaN when unknown). */
  heap: number;
  /** CPU seconds used since the process started (user + system). */
  cpu: number;
}

/**
 * Several readings `gapMs` apart: median RSS, and the smallest heap (the one
 * least inflated by garbage not yet collected). CPU is the last reading.
 */
export async function settledSample(read: () => Promise<ResourceSample>, n = 5, gapMs = 200): Promise<ResourceSample> {
  const all: ResourceSample[] = [];
  for (let i = 0; i < n; i++) {
    if (i) await sleep(gapMs);
    all.push(await read());
  }
  const rss = all.map((s) => s.rss).sort((a, b) => a - b)[Math.floor((n - 1) / 2)];
  return { rss, heap: Math.min(...all.map((s) => s.heap)), cpu: all[n - 1].cpu };
}

/** A control plane the simulator talks to. */
export interface ControlPlane {
  /** 'spawned' by the simulator, or 'external' (given by --api/--xds). */
  mode: 'spawned' | 'external';
  /** REST base URL, e.g. http://127.0.0.1:8080. */
  api: string;
  /** xDS address, host:port. */
  xds: string;
  pid?: number;
  sample(): Promise<ResourceSample>;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** RSS and CPU of a local process from Linux /proc (CLK_TCK is 100 on Linux). */
export function procSample(pid: number): { rss: number; cpu: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? NaN);
  // The command name in field 2 may contain spaces: count fields after its closing parenthesis.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { rss: kb * 1024, cpu: (Number(f[11]) + Number(f[12])) / 100 };
}

/** Selected values from a Prometheus text exposition. */
export async function scrapeMetrics(api: string): Promise<Record<string, number>> {
  const res = await fetch(`${api}/metrics`, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`GET ${api}/metrics answered ${res.status}`);
  const out: Record<string, number> = {};
  for (const line of (await res.text()).split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*) ([^ ]+)$/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

async function waitReady(api: string, timeoutMs: number, alive: () => string | undefined): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const dead = alive();
    if (dead) throw new Error(dead);
    const status = await fetch(`${api}/ready`, { signal: AbortSignal.timeout(2000) }).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) return;
    if (Date.now() > end) throw new Error(`control plane at ${api} not ready within ${timeoutMs / 1000} s (last status ${status || 'no answer'})`);
    await sleep(100);
  }
}

/**
 * Spawns `node build/src/main.js` on free ports with an in-memory embedded
 * database, like bench/heartbeat.ts, and waits for GET /ready = 200.
 */
export async function spawnControlPlane(opts: { debounceMs: number; env?: Record<string, string>; timeoutMs?: number }): Promise<ControlPlane> {
  const [port, grpcPort, xdsPort] = [await freePort(), await freePort(), await freePort()];
  // An inherited DATABASE_URL would point every run at one shared database.
  const { DATABASE_URL: _d, ETCD_ENDPOINTS: _e, CONFIG_FILE: _c, ...inherited } = process.env;
  const env = {
    ...inherited,
    HOST: '127.0.0.1',
    PORT: String(port),
    GRPC_PORT: String(grpcPort),
    XDS_PORT: String(xdsPort),
    DATA_DIR: 'memory://',
    LOG_LEVEL: 'error',
    XDS_DEBOUNCE_QUIET_MS: String(opts.debounceMs),
    ...opts.env,
  };
  // BENCH_CPU_PROF=dir profiles the control plane (written when it exits), as in the other benchmarks.
  const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  // --expose-gc plus our SIGUSR2 hook: the simulator asks for a full GC before reading memory.
  const gcHook = pathToFileURL(join(PACKAGE_ROOT, 'build/tools/simulate/gc-hook.js')).href;
  const child = spawn(process.execPath, ['--enable-source-maps', '--expose-gc', '--import', gcHook, ...prof, join(PACKAGE_ROOT, 'build/src/main.js')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  // Keep the last lines of its output for error messages; reading also keeps the pipes from filling up.
  const tail: string[] = [];
  const keep = (b: Buffer) => {
    tail.push(...b.toString('utf8').split('\n').filter(Boolean));
    if (tail.length > 40) tail.splice(0, tail.length - 40);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exited: string | undefined;
  const exit = new Promise<void>((resolve) =>
    child.on('exit', (code, signal) => {
      exited = `control plane exited (${signal ?? `code ${code}`}): ${tail.slice(-10).join('\n')}`;
      resolve();
    }),
  );
  // A crashed or interrupted simulator must not leave the control plane behind.
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);
  const api = `http://127.0.0.1:${port}`;
  const stop = async () => {
    process.off('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exit;
      clearTimeout(t);
    }
  };
  try {
    await waitReady(api, opts.timeoutMs ?? 60_000, () => exited);
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    mode: 'spawned',
    api,
    xds: `127.0.0.1:${xdsPort}`,
    pid: child.pid,
    async sample() {
      // With --expose-gc the control plane runs a full GC on SIGUSR2: garbage is not memory per proxy.
      child.kill('SIGUSR2');
      await sleep(150);
      const p = procSample(child.pid!);
      const heap = await scrapeMetrics(api).then(
        (m) => m.nodejs_heap_size_used_bytes ?? NaN,
        () => NaN,
      );
      return { ...p, heap };
    },
    stop,
  };
}

/** An existing control plane: resources come from its /metrics. */
export async function attachControlPlane(api: string, xds: string): Promise<ControlPlane> {
  await waitReady(api, 10_000, () => undefined);
  return {
    mode: 'external',
    api,
    xds,
    async sample() {
      const m = await scrapeMetrics(api);
      return { rss: m.process_resident_memory_bytes ?? NaN, heap: m.nodejs_heap_size_used_bytes ?? NaN, cpu: m.process_cpu_seconds_total ?? NaN };
    },
    async stop() {},
  };
}
