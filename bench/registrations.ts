/**
 * Registration benchmark: how many `POST /api/v1/services/:service/endpoints`
 * (a durable endpoint, one registry transaction each) one control-plane
 * process takes per second on the embedded database, and at what latency.
 * The process is spawned at default settings (PGlite in memory, in-memory
 * coordination); the load is closed-loop from this process over keep-alive
 * connections, round-robin over the services.
 *
 * --ttl S registers heartbeat endpoints instead (spec.ttlSeconds: kept in
 * coordination, not in the database); --database-url URL runs the control plane
 * on that PostgreSQL database instead of the embedded one.
 *
 *   npm run bench -- registrations [--services 100] [--concurrency 32] [--seconds 10] [--runs 3] [--warmup 5] [--ttl S] [--database-url URL]
 */
import http from 'node:http';
import { spawnControlPlane } from '../tools/simulate/control-plane.js';
import { AppConfig } from '../src/config/config.js';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const SERVICES = arg('services', 100);
const CONCURRENCY = arg('concurrency', 32);
const SECONDS = arg('seconds', 10);
const RUNS = arg('runs', 3);
const TTL = arg('ttl', 0);
// Seconds of the same load before the measured runs: the first seconds of a fresh process run slower (PGlite's WebAssembly is tiered up as it runs).
const WARMUP = arg('warmup', 5);

const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });

function call(api: URL, method: string, path: string, body?: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const headers = data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : undefined;
    const req = http.request({ host: api.hostname, port: api.port, method, path, agent, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(data);
  });
}

interface Run {
  rate: number;
  p50: number;
  p99: number;
  errors: number;
  cpu: number;
  /** CPU of this process (the load generator), in cores: on 2 cores it competes with the control plane. */
  clientCpu: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  // --database-url measures the same against a PostgreSQL server instead of the embedded database.
  const dbi = process.argv.indexOf('--database-url');
  const databaseUrl = dbi > 0 ? process.argv[dbi + 1] : undefined;
  const cp = await spawnControlPlane({ debounceMs: new AppConfig().XDS_DEBOUNCE_QUIET_MS, env: databaseUrl ? { DATABASE_URL: databaseUrl } : {} });
  const api = new URL(cp.api);
  try {
    for (let s = 0; s < SERVICES; s++) {
      const code = await call(api, 'POST', '/api/v1/services', { name: `svc-${s}`, spec: { protocol: 'http', port: 80 } });
      if (code !== 201) throw new Error(`creating service svc-${s} answered ${code}`);
    }
    let seq = 0;
    const results: Run[] = [];
    for (let run = WARMUP > 0 ? -1 : 0; run < RUNS; run++) {
      const lat: number[] = [];
      const codes = new Map<number, number>();
      const end = Date.now() + (run < 0 ? WARMUP : SECONDS) * 1000;
      const cpu0 = (await cp.sample()).cpu;
      const own0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (Date.now() < end) {
            const i = seq++;
            const body = { name: `ep-${i}`, spec: { address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, port: 8080, ...(TTL ? { ttlSeconds: TTL } : {}) } };
            const start = process.hrtime.bigint();
            const code = await call(api, 'POST', `/api/v1/services/svc-${i % SERVICES}/endpoints`, body).catch(() => 0);
            lat.push(Number(process.hrtime.bigint() - start) / 1e6);
            if (code !== 201) codes.set(code, (codes.get(code) ?? 0) + 1);
          }
        }),
      );
      if (run < 0) {
        console.log(`warm-up: ${lat.length} registrations in ${WARMUP} s (not counted)`);
        continue;
      }
      const secs = Number(process.hrtime.bigint() - t0) / 1e9;
      const own = process.cpuUsage(own0);
      const clientCpu = (own.user + own.system) / 1e6 / secs;
      const cpu = ((await cp.sample()).cpu - cpu0) / secs;
      lat.sort((a, b) => a - b);
      const errors = [...codes.values()].reduce((a, b) => a + b, 0);
      const r = { rate: (lat.length - errors) / secs, p50: lat[Math.floor(lat.length * 0.5)], p99: lat[Math.floor(lat.length * 0.99)], errors, cpu, clientCpu };
      results.push(r);
      console.log(
        `run ${run + 1}: ${r.rate.toFixed(0)} registrations/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, ` +
          `errors ${errors}${codes.size ? ` (${[...codes].map(([c, n]) => `${c}×${n}`).join(', ')})` : ''}, control-plane CPU ${(cpu * 100).toFixed(0)}% ` +
          // CPU per registration holds up better than the rate on a machine shared with other work.
          `(${((cpu * 1000) / r.rate).toFixed(2)} ms CPU per registration), load generator CPU ${(clientCpu * 100).toFixed(0)}%`,
      );
    }
    console.log(
      `median of ${RUNS}: ${median(results.map((r) => r.rate)).toFixed(0)} registrations/s, p99 ${median(results.map((r) => r.p99)).toFixed(2)} ms, ` +
        `${median(results.map((r) => (r.cpu * 1000) / r.rate)).toFixed(2)} ms CPU per registration ` +
        `(${databaseUrl ? "PostgreSQL" : "embedded database"}, default settings, ${TTL ? `heartbeat endpoints (TTL ${TTL} s)` : 'durable endpoints'}, ${SERVICES} services, concurrency ${CONCURRENCY}, ${SECONDS} s runs after ${WARMUP} s of warm-up)`,
    );
  } finally {
    await cp.stop();
    agent.destroy();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
