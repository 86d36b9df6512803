import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { CheckedState } from '../../src/model/health.js';
import { idOf, type EndpointSpec, type Resource, type RouteSpec, type ServiceSpec } from '../../src/model/resources.js';
import { POLICY_KINDS } from '../../src/policies/index.js';
import { PUSH_ORDER } from '../../src/translate/envoy-types.js';
import { buildIR, patchEndpoints, patchRoutes, type TranslateInput } from '../../src/translate/ir.js';
import { IrMemo } from '../../src/translate/memo.js';
import { groupKey, type IR, type NodeGroup } from '../../src/translate/types.js';
import { type GroupSnapshot, SnapshotCache } from '../../src/xds/cache/cache.js';
import { fuzzCaseArbitrary, groupsOf } from '../support/fuzz-registry.js';

/*
 * Incremental translation (issue 17) against its oracle. A random registry
 * goes through a random sequence of changes (route weights, endpoint health,
 * health-check results, heartbeat endpoints, policies, attachments, resources
 * replaced by another registry's, deleted, restored, and rebuilds with nothing
 * changed). After each change the incremental path (IrMemo, the cache's
 * per-group memos and encodings by object, and the route and EDS fast paths
 * where the publisher takes them) and
 * a full rebuild (no memo, every resource rendered and serialized again) must
 * give the same IR and byte-identical snapshots: every version, every encoded
 * resource, every issue. The two caches see the same history, so "the last
 * good version stays" behaves the same in both.
 */

const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : 17;
const RUNS = process.env.FUZZ_RUNS ? Number(process.env.FUZZ_RUNS) : 80;

type Op = { op: 'take' | 'delete' | 'restore' | 'weight' | 'health' | 'checked' | 'heartbeat' | 'policy' | 'attach' | 'noop'; pick: number; value: number };
const opArb: fc.Arbitrary<Op> = fc.record({
  op: fc.constantFrom('take', 'delete', 'restore', 'weight', 'weight', 'health', 'health', 'checked', 'heartbeat', 'policy', 'attach', 'noop'),
  pick: fc.nat(1000),
  value: fc.nat(100),
});

const stored = (r: object): Resource => ({ labels: {}, ...structuredClone(r), version: 1, createdAt: '', updatedAt: '', status: {} }) as unknown as Resource;
const HEALTH = ['healthy', 'unhealthy', 'draining', 'unknown'] as const;
const CHECKED: CheckedState[] = ['unknown', 'healthy', 'unhealthy'];

/** The registry as the change feed holds it: resource objects replaced on change, never mutated (what the memo relies on). */
class World {
  readonly state = new Map<string, Resource>();
  heartbeat = new Map<string, Resource<EndpointSpec>[]>();
  checked = new Map<string, Map<string, CheckedState>>();
  revision = 1;

  constructor(
    private readonly a: Map<string, object>,
    private readonly b: Map<string, object>,
    private readonly spareHeartbeat: object[],
    readonly panicShare: number | undefined,
  ) {
    for (const [id, r] of a) this.state.set(id, stored(r));
  }

  input(): TranslateInput {
    return { revision: this.revision, resources: [...this.state.values()], heartbeat: this.heartbeat, checked: this.checked, ...(this.panicShare !== undefined ? { panicShare: this.panicShare } : {}) };
  }

  /**
   * Applies one change; returns what the publisher's fast paths would see: the
   * service whose endpoints alone changed, or the Routes written when writing
   * existing Routes is all the change did.
   */
  apply(o: Op): { endpointsOf?: string; routes?: Resource<RouteSpec>[] } {
    this.revision++;
    const nth = <T>(xs: T[]): T | undefined => (xs.length ? xs[o.pick % xs.length] : undefined);
    const of = (kind: string) => [...this.state.values()].filter((r) => r.kind === kind);
    switch (o.op) {
      case 'take': {
        const id = nth([...new Set([...this.a.keys(), ...this.b.keys()])].sort());
        if (!id) return {};
        const existed = this.state.has(id);
        this.state.set(id, stored(this.b.get(id) ?? this.a.get(id)!));
        const r = this.state.get(id)!;
        return r.kind === 'Route' && existed ? { routes: [r as unknown as Resource<RouteSpec>] } : {};
      }
      case 'delete': {
        const id = nth([...this.state.keys()].sort());
        if (id) this.state.delete(id);
        return {};
      }
      case 'restore': {
        const id = nth([...this.a.keys()].sort());
        if (id) this.state.set(id, stored(this.a.get(id)!));
        return {};
      }
      case 'weight': {
        const r = nth(of('Route')) as Resource<RouteSpec> | undefined;
        if (!r || !r.spec.rules.length) return {};
        const i = o.value % r.spec.rules.length;
        const rules = r.spec.rules.map((rule, j) => (j !== i || !rule.backends.length ? rule : { ...rule, backends: rule.backends.map((b, k) => (k === o.pick % rule.backends.length ? { ...b, weight: o.value } : b)) }));
        const next = { ...r, version: r.version + 1, spec: { ...r.spec, rules } } as unknown as Resource;
        this.state.set(idOf(r), next);
        return { routes: [next as unknown as Resource<RouteSpec>] };
      }
      case 'health': {
        const e = nth(of('Endpoint')) as Resource<EndpointSpec> | undefined;
        if (!e) return {};
        this.state.set(idOf(e), { ...e, version: e.version + 1, spec: { ...e.spec, health: HEALTH[o.value % HEALTH.length] } } as unknown as Resource);
        return { endpointsOf: e.service };
      }
      case 'checked': {
        const svc = nth(of('Service'));
        if (!svc) return {};
        const eps = [...of('Endpoint').filter((e) => e.service === svc.name).map((e) => e.name), 'e1'];
        // A new map per service, as the health board hands out.
        const next = new Map(this.checked.get(svc.name) ?? []);
        next.set(eps[o.value % eps.length], CHECKED[o.pick % CHECKED.length]);
        this.checked = new Map(this.checked).set(svc.name, next);
        return { endpointsOf: svc.name };
      }
      case 'heartbeat': {
        const spare = nth(this.spareHeartbeat) as { service?: string; name: string } | undefined;
        if (!spare?.service) return {};
        const list = this.heartbeat.get(spare.service) ?? [];
        const has = list.some((e) => e.name === spare.name);
        const next = has ? list.filter((e) => e.name !== spare.name) : [...list, stored(spare) as unknown as Resource<EndpointSpec>];
        this.heartbeat = new Map(this.heartbeat).set(spare.service, next);
        return { endpointsOf: spare.service };
      }
      case 'policy': {
        // New settings behind an attached name: the holders' objects stay the same, what they resolve to does not.
        const p = nth(of('Policy'));
        const others = [...this.a.values(), ...this.b.values()].filter((r) => (r as Resource).kind === 'Policy') as Resource[];
        const from = others.length ? others[o.value % others.length] : undefined;
        if (p && from) this.state.set(idOf(p), { ...p, version: p.version + 1, spec: structuredClone(from.spec) } as Resource);
        return {};
      }
      case 'attach': {
        // A holder attaches a different set of the Policies there are.
        const holder = nth([...of('Service'), ...of('Route'), ...of('Listener')]);
        const names = of('Policy').map((r) => r.name);
        if (!holder) return {};
        const policies = names.filter((_, i) => (o.value >> i) & 1);
        this.state.set(idOf(holder), { ...holder, version: holder.version + 1, spec: { ...holder.spec, policies } } as Resource);
        return {};
      }
      case 'noop':
        return {};
    }
  }
}

/** Everything a client could receive from a group, as text: versions, each resource's bytes, and the issues. */
function fingerprint(s: GroupSnapshot): string[] {
  const lines = [`issues ${JSON.stringify(s.issues)}`];
  for (const t of PUSH_ORDER) {
    lines.push(`${t} version ${s.types[t].version}`);
    for (const r of s.types[t].list) lines.push(`${t} ${r.name} ${Buffer.from(r.any).toString('base64')}`);
  }
  return lines;
}

const coverage = { steps: 0, fastPath: 0, routePath: 0, memoHits: 0, changedSnapshots: 0 };

describe('incremental translation: byte-identical to a full rebuild', () => {
  it(`holds for random change sequences (seed ${SEED}, ${RUNS} runs)`, () => {
    fc.assert(
      fc.property(fuzzCaseArbitrary(), fuzzCaseArbitrary(), fc.array(opArb, { minLength: 1, maxLength: 14 }), (caseA, caseB, ops) => {
        const byId = (rs: object[]) => new Map(rs.map((r) => [idOf(r as Resource), r]));
        const world = new World(byId(caseA.resources), byId(caseB.resources), [...caseA.heartbeat, ...caseB.heartbeat], caseA.panicShare);
        for (const e of caseA.heartbeat) world.heartbeat.set(e.service!, [...(world.heartbeat.get(e.service!) ?? []), stored(e) as unknown as Resource<EndpointSpec>]);
        for (const [svc, eps] of Object.entries(caseA.checked)) world.checked.set(svc, new Map(Object.entries(eps)));
        const groups: NodeGroup[] = [...new Map([...groupsOf(caseA), ...groupsOf(caseB)].map((g) => [groupKey(g), g])).values()];

        const memo = new IrMemo();
        const incremental = new SnapshotCache(POLICY_KINDS);
        const full = new SnapshotCache(POLICY_KINDS, { incremental: false });
        for (const g of groups) {
          incremental.snapshot(g);
          full.snapshot(g);
        }
        let ir: IR = buildIR(world.input(), POLICY_KINDS, memo);
        incremental.setIR(ir);
        full.setIR(buildIR(world.input(), POLICY_KINDS));

        for (const o of [{ op: 'noop', pick: 0, value: 0 } as Op, ...ops]) {
          const { endpointsOf, routes } = world.apply(o);
          // The publisher's choice: the route fast path when only existing Routes were written, the EDS fast path when only a
          // known service's endpoints changed, else a (memoized) full build.
          const routed = routes ? patchRoutes(ir, world.revision, routes, memo, POLICY_KINDS) : undefined;
          const svc = endpointsOf ? (world.state.get(idOf({ kind: 'Service', name: endpointsOf })) as Resource<ServiceSpec> | undefined) : undefined;
          const patched = svc
            ? patchEndpoints(ir, world.revision, [{ service: svc, durable: [...world.state.values()].filter((r) => r.kind === 'Endpoint' && r.service === svc.name) as unknown as Resource<EndpointSpec>[], heartbeat: world.heartbeat.get(svc.name), checked: world.checked.get(svc.name) }], world.panicShare ?? 0.5)
            : undefined;
          if (routed) {
            coverage.routePath++;
            ir = routed;
            coverage.changedSnapshots += incremental.setIR(ir).length;
          } else if (patched) {
            coverage.fastPath++;
            ir = patched.ir;
            coverage.changedSnapshots += incremental.setIR(ir, patched.clusters).length;
          } else {
            ir = buildIR(world.input(), POLICY_KINDS, memo);
            const s = memo.stats();
            coverage.memoHits += s.services.hits + s.routes.hits;
            coverage.changedSnapshots += incremental.setIR(ir).length;
          }
          const oracle = buildIR(world.input(), POLICY_KINDS);
          full.setIR(oracle);
          coverage.steps++;

          assert.deepEqual(ir, oracle, `IR after ${JSON.stringify(o)}`);
          for (const g of groups) {
            const got = fingerprint(incremental.snapshot(g)!);
            const want = fingerprint(full.snapshot(g)!);
            const at = got.findIndex((l, i) => l !== want[i]);
            if (at !== -1 || got.length !== want.length)
              assert.fail(`group ${groupKey(g)} after ${JSON.stringify(o)} differs at line ${at}:\n  incremental: ${got[at] ?? '(nothing)'}\n  full:        ${want[at] ?? '(nothing)'}`);
          }
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
    // The sequences must exercise what they claim to: memo reuse, the fast path, and snapshots that change.
    assert.ok(coverage.memoHits > coverage.steps, JSON.stringify(coverage));
    assert.ok(coverage.fastPath > coverage.steps / 20, JSON.stringify(coverage));
    assert.ok(coverage.routePath > coverage.steps / 20, JSON.stringify(coverage));
    console.log(`# incremental translation: ${JSON.stringify(coverage)}`);
    assert.ok(coverage.changedSnapshots > coverage.steps / 8, JSON.stringify(coverage));
  });

  it('a rebuild with nothing changed returns the same snapshot objects (nothing re-encoded, nothing pushed)', () => {
    const c = fc.sample(fuzzCaseArbitrary(), { seed: SEED, numRuns: 1 })[0];
    const world = new World(new Map(c.resources.map((r) => [idOf(r as Resource), r])), new Map(), [], c.panicShare);
    const memo = new IrMemo();
    const cache = new SnapshotCache(POLICY_KINDS);
    const groups = groupsOf(c);
    for (const g of groups) cache.snapshot(g);
    cache.setIR(buildIR(world.input(), POLICY_KINDS, memo));
    const before = groups.map((g) => cache.snapshot(g)!);
    const pushed = cache.setIR(buildIR(world.input(), POLICY_KINDS, memo));
    assert.deepEqual(pushed, []);
    groups.forEach((g, i) => {
      for (const t of PUSH_ORDER) {
        if (t === PUSH_ORDER[2]) continue; // Envoy listeners' connection managers are rendered again (they are few); their encodings are shared by content.
        assert.equal(cache.snapshot(g)!.types[t], before[i].types[t], `${groupKey(g)} ${t}`);
      }
    });
    assert.ok(memo.stats().services.misses === 0 && memo.stats().routes.misses === 0, JSON.stringify(memo.stats()));
  });
});
