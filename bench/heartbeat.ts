/**
 * Heartbeat benchmark: one control-plane process (spawned, embedded database,
 * in-memory coordination or a throwaway etcd with --etcd), N heartbeat
 * endpoints, and a closed-loop load of PUT .../heartbeat calls from this process.
 *
 *   npm run bench -- heartbeat [--etcd] [--endpoints 1000] [--concurrency 64] [--seconds 10] [--runs 3]
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../src/common/paths.js';
import { TestEtcd } from '../test/support/etcd.js';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const useEtcd = process.argv.includes('--etcd');
const ENDPOINTS = arg('endpoints', 1000);
const CONCURRENCY = arg('concurrency', 64);
const SECONDS = arg('seconds', 10);
const RUNS = arg('runs', 3);

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
function call(port: number, method: string, path: string, body?: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request({ host: '127.0.0.1', port, method, path, agent, headers: data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {} }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(data);
  });
}

async function main(): Promise<void> {
  const etcd = useEtcd ? await TestEtcd.start() : undefined;
  const port = await freePort();
  const { DATABASE_URL: _d, ...env } = process.env;
  const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const child = spawn(process.execPath, [...prof, join(PACKAGE_ROOT, 'build/src/main.js')], {
    env: { ...env, HOST: '127.0.0.1', PORT: String(port), GRPC_PORT: String(await freePort()), XDS_PORT: String(await freePort()), DATA_DIR: 'memory://', LOG_LEVEL: 'error', ...(etcd ? { ETCD_ENDPOINTS: etcd.endpoint } : {}) },
    stdio: 'inherit',
  });
  try {
    for (let i = 0; ; i++) {
      if ((await call(port, 'GET', '/ready').catch(() => 0)) === 200) break;
      if (i > 600) throw new Error('control plane did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    await call(port, 'POST', '/api/v1/services', { name: 'svc', spec: { protocol: 'http', port: 80 } });
    for (let i = 0; i < ENDPOINTS; i++) {
      const s = await call(port, 'POST', '/api/v1/services/svc/endpoints', { name: `ep-${i}`, spec: { address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, port: 80, ttlSeconds: 60 } });
      if (s !== 201) throw new Error(`registration ${i} answered ${s}`);
    }
    const results: { rate: number; p50: number; p99: number; errors: number; cpu: number }[] = [];
    for (let run = 0; run < RUNS; run++) {
      const lat: number[] = [];
      let errors = 0;
      const codes = new Map<number, number>();
      let next = 0;
      const end = Date.now() + SECONDS * 1000;
      const cpu0 = cpuOf(child.pid!);
      const t0 = process.hrtime.bigint();
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (Date.now() < end) {
            const i = next++ % ENDPOINTS;
            const s = process.hrtime.bigint();
            const code = await call(port, 'PUT', `/api/v1/services/svc/endpoints/ep-${i}/heartbeat`).catch(() => 0);
            lat.push(Number(process.hrtime.bigint() - s) / 1e6);
            if (code !== 200) {
              errors++;
              codes.set(code, (codes.get(code) ?? 0) + 1);
            }
          }
        }),
      );
      const secs = Number(process.hrtime.bigint() - t0) / 1e9;
      const cpu = (cpuOf(child.pid!) - cpu0) / secs;
      lat.sort((a, b) => a - b);
      const r = { rate: lat.length / secs, p50: lat[Math.floor(lat.length * 0.5)], p99: lat[Math.floor(lat.length * 0.99)], errors, cpu };
      results.push(r);
      console.log(`run ${run + 1}: ${r.rate.toFixed(0)} heartbeats/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, errors ${errors}${codes.size ? ` (${[...codes].map(([c, n]) => `${c}×${n}`).join(', ')})` : ''}, control-plane CPU ${(cpu * 100).toFixed(0)}%`);
    }
    const med = (f: (r: (typeof results)[number]) => number) => results.map(f).sort((a, b) => a - b)[Math.floor(results.length / 2)];
    console.log(
      `median of ${RUNS}: ${med((r) => r.rate).toFixed(0)} heartbeats/s, p99 ${med((r) => r.p99).toFixed(2)} ms ` +
        `(coordination: ${etcd ? 'etcd 3.4' : 'in-memory'}, ${ENDPOINTS} endpoints, concurrency ${CONCURRENCY}, ${SECONDS} s runs)`,
    );
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.on('exit', r));
    await etcd?.stop();
    agent.destroy();
  }
}

/** CPU seconds used so far by a process (Linux /proc). */
function cpuOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(stat[11]) + Number(stat[12])) / 100;
  } catch {
    return 0;
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
