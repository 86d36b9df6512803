/**
 * What one REST write costs after it commits: PostgreSQL round trips and
 * coordination puts made by the rest of the pipeline (change feed, announce,
 * status) for a route PATCH, in-process with the embedded database.
 *
 *   npm run bench -- write-path [--writes 20] [--etcd]
 */
import pg from 'pg';
import { startApp } from '../src/app.js';
import { loadConfig } from '../src/config/config.js';
import { COORDINATION, type Coordination } from '../src/coordination/coordination.js';
import { TestEtcd } from '../test/support/etcd.js';
import { request } from '../test/support/app.js';
import { echoEndpoint, echoRoute, echoService, edgeListener } from '../test/support/fixtures.js';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const WRITES = arg('writes', 20);
const useEtcd = process.argv.includes('--etcd');

// Count every statement the process sends PostgreSQL (TypeORM goes through pg.Client), inside and outside write transactions.
let queries = 0;
let inTx = 0;
let open = false;
const original = pg.Client.prototype.query;
(pg.Client.prototype as any).query = function (this: unknown, ...args: unknown[]) {
  const text = String(typeof args[0] === 'string' ? args[0] : ((args[0] as { text?: string })?.text ?? '')).trim().toUpperCase();
  if (text.startsWith('START TRANSACTION') || text === 'BEGIN') open = true;
  if (open) inTx++;
  else queries++;
  if (text === 'COMMIT' || text === 'ROLLBACK') open = false;
  return (original as any).apply(this, args);
};

const etcd = useEtcd ? await TestEtcd.start() : undefined;
const running = await startApp(
  loadConfig({
    PORT: '0', GRPC_PORT: '0', XDS_PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', DATA_DIR: 'memory://',
    // No background poll inside the measurement window: only what a write causes is counted.
    XDS_POLL_INTERVAL_MS: '600000',
    ...(etcd ? { ETCD_ENDPOINTS: etcd.endpoint } : {}),
  }),
);
const coord = running.app.get<Coordination>(COORDINATION);
let puts = 0;
const put = coord.put.bind(coord);
coord.put = (...a: Parameters<Coordination['put']>) => {
  puts++;
  return put(...a);
};
const base = `http://127.0.0.1:${running.httpPort}`;
const ok = (r: { status: number; text: string }) => {
  if (r.status >= 300) throw new Error(r.text);
};
ok(await request(base, 'POST', '/api/v1/apply', [echoService(), echoEndpoint('e1', 'v1', 50061), echoEndpoint('e2', 'v2', 50062), echoRoute(90, 10), edgeListener()]));
await new Promise((r) => setTimeout(r, 1500));

const during: number[] = [];
const afterCommit: number[] = [];
const putsAfter: number[] = [];
for (let i = 0; i < WRITES; i++) {
  const q0 = queries;
  const t0 = inTx;
  const p0 = puts;
  ok(await request(base, 'PATCH', '/api/v1/routes/echo', { labels: { step: String(i) } }, { 'content-type': 'application/merge-patch+json' }));
  // Debounce (100 ms) + build + status + the announcement's echo through coordination.
  await new Promise((r) => setTimeout(r, 600));
  during.push(inTx - t0);
  afterCommit.push(queries - q0);
  putsAfter.push(puts - p0);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(
  JSON.stringify({
    writes: WRITES,
    coordination: etcd ? 'etcd' : 'memory',
    statementsInTheWriteTransaction: median(during),
    postgresRoundTripsAfterCommit: { median: median(afterCommit), max: Math.max(...afterCommit) },
    coordinationPutsPerWrite: median(putsAfter),
  }),
);
await running.close();
await etcd?.stop();
