import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EndpointSpec, Resource, RouteSpec, ServiceSpec } from '../../src/model/resources.js';
import { POLICY_KINDS } from '../../src/policies/index.js';
import { PUSH_ORDER, TYPE } from '../../src/translate/envoy-types.js';
import { buildIR, patchEndpoints, patchRoutes } from '../../src/translate/ir.js';
import { IrMemo } from '../../src/translate/memo.js';
import type { IR, NodeGroup } from '../../src/translate/types.js';
import { GroupMemo, translateGroup } from '../../src/translate/xds.js';
import { type GroupSnapshot, SnapshotCache } from '../../src/xds/cache/cache.js';
import { echoEndpoint, echoRoute, echoService, edgeListener } from '../support/fixtures.js';

/*
 * The group-level route fast path (translateGroup with a GroupMemo after
 * patchRoutes): only the changed virtual hosts are rendered again. Its output
 * must be what a translation with no memo gives, including the issues a
 * changed route reports (a proxyless client cannot make 8 retries), which the
 * fuzzed oracle (incremental-translation) rarely reaches.
 */

const stored = (r: object): Resource => ({ labels: {}, ...structuredClone(r), version: 1, createdAt: '', updatedAt: '', status: {} }) as unknown as Resource;
const GROUPS: NodeGroup[] = [
  { kind: 'envoy', cluster: 'default' },
  { kind: 'proxyless', cluster: '' },
];

/** Two routes on two listeners (one holds both), as the mirror keeps them. */
function registry(): Map<string, Resource> {
  const api = { ...echoRoute(), name: 'api', spec: { ...echoRoute().spec, hosts: ['api', 'api.example'] } };
  const rs = [echoService(), echoEndpoint('echo-1', 'v1'), echoEndpoint('echo-2', 'v2', 50062), echoEndpoint('echo-3', 'v1', 50063), echoRoute(), api, edgeListener(['echo', 'api']), { ...edgeListener(['api']), name: 'inner' }];
  return new Map(rs.map((r) => [`${r.kind}/${r.name}`, stored(r)]));
}

/** The echo Route with rule 1 weighted `v1`/`v2` and, when given, an inline retry of `attempts`. */
function echoWith(state: Map<string, Resource>, v1: number, v2: number, attempts?: number): Resource<RouteSpec> {
  const r = state.get('Route/echo') as unknown as Resource<RouteSpec>;
  const base = echoRoute(v1, v2).spec.rules[1] as RouteSpec['rules'][number];
  const rule = attempts === undefined ? base : { ...base, retry: { attempts, on: ['unavailable'] } };
  return { ...r, version: r.version + 1, spec: { ...r.spec, rules: [r.spec.rules[0], rule] } } as Resource<RouteSpec>;
}

describe('translation: the route fast path of a node group', () => {
  it('gives what a translation without memo gives, through weight and inline-policy changes, and reuses what did not change', () => {
    const state = registry();
    const memo = new IrMemo();
    const groupMemos = new Map(GROUPS.map((g) => [g, new GroupMemo()]));
    let revision = 1;
    const input = () => ({ revision: revision++, resources: [...state.values()] });
    let ir: IR = buildIR(input(), POLICY_KINDS, memo);
    const last = new Map(GROUPS.map((g) => [g, translateGroup(ir, g, POLICY_KINDS, groupMemos.get(g))]));
    let fast = 0;
    // Weight changes; an inline retry (new policy type: a full walk); more retries than proxyless clients make (a new issue); and back.
    const steps: [number, number, number?][] = [[50, 50], [10, 90], [10, 90, 2], [10, 90, 8], [30, 70, 8], [30, 70, 2], [90, 10, 2]];
    for (const [v1, v2, attempts] of steps) {
      const r = echoWith(state, v1, v2, attempts);
      state.set('Route/echo', r as unknown as Resource);
      const next = input();
      ir = patchRoutes(ir, next.revision, [r], memo, POLICY_KINDS) ?? buildIR(next, POLICY_KINDS, memo);
      const what = JSON.stringify({ v1, v2, attempts });
      for (const g of GROUPS) {
        const got = translateGroup(ir, g, POLICY_KINDS, groupMemos.get(g));
        assert.deepEqual(got, translateGroup(ir, g, POLICY_KINDS), `${g.kind} after ${what}`);
        // The fast path hands back the clusters it had, as the same array.
        if (got.resources[TYPE.cluster] === last.get(g)!.resources[TYPE.cluster]) fast++;
        last.set(g, got);
      }
      if (attempts === 8 && v1 === 10) assert.ok(last.get(GROUPS[1])!.issues.some((i) => i.field?.startsWith('spec.rules[1].retry')), JSON.stringify(last.get(GROUPS[1])!.issues));
    }
    assert.ok(fast >= 2 * (steps.length - 2), `fast path taken ${fast} times`);
  });

  it('a route change keeps a snapshot whose route configuration points at a missing cluster unpublished, as a full rebuild does', () => {
    const state = registry();
    const memo = new IrMemo();
    const incremental = new SnapshotCache(POLICY_KINDS);
    const full = new SnapshotCache(POLICY_KINDS, { incremental: false });
    let revision = 1;
    const input = () => ({ revision: revision++, resources: [...state.values()] });
    const fingerprint = (s: GroupSnapshot) => [JSON.stringify(s.issues), ...PUSH_ORDER.flatMap((t) => [s.types[t].version, ...s.types[t].list.map((r) => `${r.name} ${Buffer.from(r.any).toString('base64')}`)])];
    let ir = buildIR(input(), POLICY_KINDS, memo);
    for (const c of [incremental, full]) {
      c.setIR(ir);
      for (const g of GROUPS) c.snapshot(g);
    }
    const check = (what: string) => {
      full.setIR(buildIR({ revision: ir.revision, resources: [...state.values()] }, POLICY_KINDS));
      for (const g of GROUPS) assert.deepEqual(fingerprint(incremental.snapshot(g)!), fingerprint(full.snapshot(g)!), `${g.kind} after ${what}`);
    };
    // A rule whose only backend has no cluster: Envoy would reject the route configuration, so the last good one stays.
    const ghost = (v1: number, v2: number) => {
      const r = echoWith(state, v1, v2);
      return { ...r, spec: { ...r.spec, rules: [...r.spec.rules, { match: { pathPrefix: '/ghost' }, backends: [{ service: 'ghost', weight: 1 }] }] } } as Resource<RouteSpec>;
    };
    state.set('Route/echo', ghost(90, 10) as unknown as Resource);
    ir = buildIR(input(), POLICY_KINDS, memo);
    incremental.setIR(ir);
    check('a backend with no cluster');
    for (const [v1, v2] of [[50, 50], [20, 80]]) {
      const r = ghost(v1, v2);
      state.set('Route/echo', r as unknown as Resource);
      const next = input();
      const patched = patchRoutes(ir, next.revision, [r], memo, POLICY_KINDS);
      assert.ok(patched, 'the route fast path applies');
      ir = patched;
      incremental.setIR(ir);
      check(`weights ${v1}/${v2}`);
      assert.ok(incremental.snapshot(GROUPS[0])!.issues.some((i) => i.message.includes('points at cluster ghost')), JSON.stringify(incremental.snapshot(GROUPS[0])!.issues));
    }
  });

  it('a route change after health flips (the EDS fast path) gives what a full rebuild gives', () => {
    const state = registry();
    const memo = new IrMemo();
    const incremental = new SnapshotCache(POLICY_KINDS);
    const full = new SnapshotCache(POLICY_KINDS, { incremental: false });
    let revision = 1;
    const input = () => ({ revision: revision++, resources: [...state.values()] });
    const fingerprint = (s: GroupSnapshot) => [JSON.stringify(s.issues), ...PUSH_ORDER.flatMap((t) => [s.types[t].version, ...s.types[t].list.map((r) => `${r.name} ${Buffer.from(r.any).toString('base64')}`)])];
    let ir = buildIR(input(), POLICY_KINDS, memo);
    for (const c of [incremental, full]) {
      c.setIR(ir);
      for (const g of GROUPS) c.snapshot(g);
    }
    const check = (what: string) => {
      full.setIR(buildIR({ revision: ir.revision, resources: [...state.values()] }, POLICY_KINDS));
      for (const g of GROUPS) assert.deepEqual(fingerprint(incremental.snapshot(g)!), fingerprint(full.snapshot(g)!), `${g.kind} after ${what}`);
    };
    let routed = 0;
    for (let k = 0; k < 4; k++) {
      const e = state.get('Endpoint/echo-1') as unknown as Resource<EndpointSpec>;
      state.set('Endpoint/echo-1', { ...e, version: e.version + 1, spec: { ...e.spec, health: k % 2 ? 'healthy' : 'unhealthy' } } as unknown as Resource);
      const durable = [...state.values()].filter((r) => r.kind === 'Endpoint') as unknown as Resource<EndpointSpec>[];
      const patched = patchEndpoints(ir, revision++, [{ service: state.get('Service/echo') as unknown as Resource<ServiceSpec>, durable }], 0.5);
      assert.ok(patched, 'the EDS fast path applies');
      ir = patched.ir;
      incremental.setIR(ir, patched.clusters);
      check(`health flip ${k}`);
      const r = echoWith(state, 80 - k, 20 + k);
      state.set('Route/echo', r as unknown as Resource);
      const next = input();
      const p = patchRoutes(ir, next.revision, [r], memo, POLICY_KINDS);
      if (p) routed++;
      ir = p ?? buildIR(next, POLICY_KINDS, memo);
      incremental.setIR(ir);
      check(`weights after health flip ${k}`);
    }
    assert.equal(routed, 4, 'the route fast path applies');
  });
});
