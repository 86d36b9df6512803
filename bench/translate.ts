/**
 * CPU of one rebuild in the publisher's own path (registry → IR → xDS →
 * encode, PGV rules, consistency check), in-process with no database or
 * network: a route weight change and an endpoint health flip, incremental
 * (the default) against full rebuilds (every resource rendered and serialized
 * again, which is what a route change cost before).
 *
 *   npm run bench -- translate [--services 1000] [--endpoints 10] [--changes 200] [--mode both|incremental|full] [--routes-only | --flips-only]
 *   BENCH_CPU_PROF=dir: writes a CPU profile of the changes (not the catalogue's setup) per mode, and prints the top self times
 */
import { POLICY_KINDS } from '../src/policies/index.js';
import type { EndpointSpec, Resource, RouteSpec } from '../src/model/resources.js';
import { TYPE } from '../src/translate/envoy-types.js';
import { buildIR, patchEndpoints, patchRoutes } from '../src/translate/ir.js';
import { IrMemo } from '../src/translate/memo.js';
import type { IR, NodeGroup } from '../src/translate/types.js';
import { type PhaseRunner, SnapshotCache } from '../src/xds/cache/cache.js';
import { Catalogue } from '../tools/simulate/catalogue.js';
import { startProfile } from './profile.js';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const modeArg = (() => {
  const i = process.argv.indexOf('--mode');
  return i > 0 ? process.argv[i + 1] : 'both';
})();
const SERVICES = arg('services', 1000);
const ENDPOINTS = arg('endpoints', 10);
const CHANGES = arg('changes', 200);
/** `--routes-only`: every change is a route weight change (for profiling one kind). */
const ROUTES_ONLY = process.argv.includes('--routes-only');
/** `--flips-only`: every change is an endpoint health flip. */
const FLIPS_ONLY = process.argv.includes('--flips-only');
if (ROUTES_ONLY && FLIPS_ONLY) {
  console.error('--routes-only and --flips-only exclude each other');
  process.exit(2);
}
const GROUPS: NodeGroup[] = [{ kind: 'envoy', cluster: 'g0' }, { kind: 'proxyless', cluster: '' }];

const stored = (r: Record<string, unknown>): Resource => ({ labels: {}, ...r, version: 1, createdAt: '', updatedAt: '', status: {} }) as unknown as Resource;
const idOf = (r: Resource) => `${r.kind}/${r.service ?? ''}/${r.name}`;

/** The simulator's catalogue (same services, endpoints, subsets, routes and listeners), as the mirror would hold it. */
function catalogue(): Map<string, Resource> {
  const plan = new Catalogue('http://unused', { services: SERVICES, endpoints: ENDPOINTS, groups: 1 }).resources();
  return new Map(plan.map((r) => stored(r)).map((r) => [idOf(r), r]));
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const p99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.99))];
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

async function run(incremental: boolean) {
  const state = catalogue();
  const memo = incremental ? new IrMemo() : undefined;
  const cache = new SnapshotCache(POLICY_KINDS, { incremental });
  let revision = 1;
  const input = () => ({ revision: revision++, resources: [...state.values()], checked: new Map(), panicShare: 0.5 });
  let ir: IR = buildIR(input(), POLICY_KINDS, memo);
  cache.setIR(ir);
  for (const g of GROUPS) cache.snapshot(g);
  ir = buildIR(input(), POLICY_KINDS, memo);
  cache.setIR(ir);

  const phases: Record<string, number[]> = { input: [], ir: [], translate: [], validate: [], publish: [] };
  const timed: PhaseRunner = (phase, fn) => {
    const t = performance.now();
    const out = fn();
    phases[phase].push(performance.now() - t);
    return out;
  };
  const route: { cpu: number[]; wall: number[]; rdsBytes: number[] } = { cpu: [], wall: [], rdsBytes: [] };
  const flip: { cpu: number[]; wall: number[] } = { cpu: [], wall: [] };
  let lastRds = cache.snapshot(GROUPS[0])?.types[TYPE.route];
  // Endpoints are only replaced during the run (same ids), so the index stays right.
  const endpointIds = new Map<string, string[]>();
  for (const [id, r] of state) if (r.kind === 'Endpoint') endpointIds.set(r.service!, [...(endpointIds.get(r.service!) ?? []), id]);
  const profiler = await startProfile(`translate-${incremental ? 'incremental' : 'full'}-${SERVICES}${ROUTES_ONLY ? '-routes' : FLIPS_ONLY ? '-flips' : ''}`);
  for (let k = 0; k < CHANGES; k++) {
    const i = (k * 7919) % SERVICES;
    if (!FLIPS_ONLY && (k % 2 === 0 || ROUTES_ONLY)) {
      // A route weight change: a new Route object, as the mirror holds after a PATCH.
      const id = `Route//svc-${i}`;
      const r = state.get(id)! as unknown as Resource<RouteSpec>;
      const [a, b] = r.spec.rules[0].backends;
      state.set(id, { ...r, version: r.version + 1, spec: { ...r.spec, rules: [{ ...r.spec.rules[0], backends: [{ ...a, weight: b.weight }, { ...b, weight: a.weight }] }] } } as unknown as Resource);
      const c0 = cpuMs();
      const t0 = performance.now();
      // As the publisher does: the route fast path when only this Route was written (incremental only), else a build from the whole input.
      const patched = memo && patchRoutes(ir, revision, [state.get(id)! as unknown as Resource<RouteSpec>], memo, POLICY_KINDS);
      if (patched) {
        revision++;
        ir = patched;
        phases.ir.push(performance.now() - t0);
      } else {
        const next = input();
        const tb = performance.now();
        phases.input.push(tb - t0);
        ir = buildIR(next, POLICY_KINDS, memo);
        phases.ir.push(performance.now() - tb);
      }
      const changed = cache.setIR(ir, undefined, timed);
      route.wall.push(performance.now() - t0);
      route.cpu.push(cpuMs() - c0);
      const envoy = changed.find((s) => s.group.kind === 'envoy');
      const before = lastRds;
      lastRds = envoy?.types[TYPE.route] ?? lastRds;
      route.rdsBytes.push(envoy ? envoy.types[TYPE.route].list.filter((r) => before?.resources.get(r.name) !== r).reduce((a, r) => a + r.any.length, 0) : 0);
    } else {
      // An endpoint health flip: the EDS fast path, as the publisher takes it.
      const id = `Endpoint/svc-${i}/svc-${i}-e0`;
      const e = state.get(id)! as unknown as Resource<EndpointSpec>;
      state.set(id, { ...e, version: e.version + 1, spec: { ...e.spec, health: e.spec.health === 'healthy' ? 'unhealthy' : 'healthy' } } as unknown as Resource);
      const svc = state.get(`Service//svc-${i}`)! as Resource<never>;
      // From an index, not a scan of the whole state: the profile should show the product's costs.
      const durable = endpointIds.get(`svc-${i}`)!.map((eid) => state.get(eid)!) as unknown as Resource<EndpointSpec>[];
      const c0 = cpuMs();
      const t0 = performance.now();
      const patched = patchEndpoints(ir, revision++, [{ service: svc, durable }], 0.5);
      if (patched) {
        cache.setIR(patched.ir, patched.clusters);
        ir = patched.ir;
      } else {
        ir = buildIR(input(), POLICY_KINDS, memo);
        cache.setIR(ir);
      }
      flip.wall.push(performance.now() - t0);
      flip.cpu.push(cpuMs() - c0);
    }
  }
  const profile = await profiler.stop();
  return { route, flip, memo: memo?.stats(), phases, profile };
}

const f = (x: number) => x.toFixed(1);
console.log(`translate: ${SERVICES} services × ${ENDPOINTS} endpoints (subsets v1/v2, one Route each, ${Catalogue.listenersPerGroup(SERVICES)} listeners), groups ${GROUPS.map((g) => g.kind).join(' + ')}, ${CHANGES} changes`);
const modes = modeArg === 'both' ? ['full', 'incremental'] : [modeArg];
const results: Record<string, Awaited<ReturnType<typeof run>>> = {};
for (const mode of modes) {
  const r = await run(mode === 'incremental');
  results[mode] = r;
  const routePart = r.route.cpu.length
    ? `route change: CPU median ${f(median(r.route.cpu))} ms, p99 ${f(p99(r.route.cpu))} ms, wall median ${f(median(r.route.wall))} ms (${Object.entries(r.phases).filter(([, v]) => v.length).map(([k, v]) => `${k} ${f(median(v))}`).join(', ')}); RDS changed for the Envoy group ${(median(r.route.rdsBytes) / 1024).toFixed(1)} KiB`
    : 'no route changes';
  console.log(
    `${mode.padEnd(11)} ${routePart}` +
      ` ${r.flip.cpu.length ? ` | health flip (EDS fast path): CPU median ${f(median(r.flip.cpu))} ms, p99 ${f(p99(r.flip.cpu))} ms` : ''}${r.memo ? ` | memo last build: services ${r.memo.services.hits} reused / ${r.memo.services.misses} computed, routes ${r.memo.routes.hits} / ${r.memo.routes.misses}` : ''}`,
  );
  for (const line of r.profile) console.log(line);
}
if (results.full?.route.cpu.length && results.incremental?.route.cpu.length) console.log(`route change CPU, full / incremental: ${f(median(results.full.route.cpu) / median(results.incremental.route.cpu))}×`);
