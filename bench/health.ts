/**
 * Active health-check load: 10,000 endpoints probed every 5 s (TCP connect) by
 * one control-plane process. Reports probes/s sustained, control-plane CPU,
 * RSS and the most sockets it held open at once.
 *
 *   npm run bench -- health [--endpoints 10000] [--interval 5000] [--seconds 30]
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import http from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../src/common/paths.js';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const N = arg('endpoints', 10000);
const INTERVAL = arg('interval', 5000);
const SECONDS = arg('seconds', 30);

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });

function call(port: number, method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {} }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

const cpuOf = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
};
const rssOf = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
const socketsOf = (pid: number) => readdirSync(`/proc/${pid}/fd`).filter((fd) => {
  try {
    return readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:');
  } catch {
    return false;
  }
}).length;

async function main(): Promise<void> {
  let accepted = 0;
  const target = createServer((s) => {
    accepted++;
    s.end();
  });
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', () => r()));
  const targetPort = (target.address() as { port: number }).port;
  const port = await freePort();
  const { DATABASE_URL: _d, ...env } = process.env;
  const child = spawn(process.execPath, [join(PACKAGE_ROOT, 'build/src/main.js')], {
    env: { ...env, HOST: '127.0.0.1', PORT: String(port), GRPC_PORT: String(await freePort()), XDS_PORT: String(await freePort()), DATA_DIR: 'memory://', LOG_LEVEL: 'error' },
    stdio: 'inherit',
  });
  try {
    for (let i = 0; (await call(port, 'GET', '/ready').catch(() => ({ status: 0 }))).status !== 200; i++) {
      if (i > 600) throw new Error('control plane did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    const setup = await call(port, 'POST', '/api/v1/apply', [
      { kind: 'Policy', name: 'tcp', spec: { type: 'healthCheck', healthCheck: { protocol: 'tcp', intervalMs: INTERVAL, timeoutMs: 1000, jitterMs: 500 } } },
      { kind: 'Service', name: 'fleet', spec: { protocol: 'tcp', port: targetPort, policies: ['tcp'] } },
    ]);
    if (setup.status !== 200) throw new Error(setup.text);
    for (let i = 0; i < N; i += 1000) {
      const eps = Array.from({ length: Math.min(1000, N - i) }, (_, j) => ({ kind: 'Endpoint', name: `ep-${i + j}`, service: 'fleet', spec: { address: '127.0.0.1', port: targetPort } }));
      const r = await call(port, 'POST', '/api/v1/apply', eps);
      if (r.status !== 200) throw new Error(r.text);
    }
    await new Promise((r) => setTimeout(r, INTERVAL * 2)); // warm up: every endpoint scheduled
    const a0 = accepted;
    const c0 = cpuOf(child.pid!);
    const t0 = Date.now();
    let maxSockets = 0;
    while (Date.now() - t0 < SECONDS * 1000) {
      maxSockets = Math.max(maxSockets, socketsOf(child.pid!));
      await new Promise((r) => setTimeout(r, 200));
    }
    const secs = (Date.now() - t0) / 1000;
    const rate = (accepted - a0) / secs;
    console.log(
      `${N} endpoints every ${INTERVAL} ms: ${rate.toFixed(0)} probes/s sustained (expected ${(N / (INTERVAL / 1000)).toFixed(0)}), ` +
        `control-plane CPU ${(((cpuOf(child.pid!) - c0) / secs) * 100).toFixed(0)}% of one core, RSS ${rssOf(child.pid!).toFixed(0)} MB, ` +
        `at most ${maxSockets} sockets open (${SECONDS} s window)`,
    );
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.on('exit', r));
    target.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
