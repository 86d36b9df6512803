import assert from 'node:assert/strict';
import { POLICY_KINDS } from '../../src/policies/index.js';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Resource } from '../../src/model/resources.js';
import { buildIR, patchEndpoints } from '../../src/translate/ir.js';
import { type IR } from '../../src/translate/types.js';
import { inconsistencies, SnapshotCache } from '../../src/xds/cache/cache.js';
import { PUSH_ORDER, TYPE } from '../../src/translate/envoy-types.js';
import { validateEncoded } from '../../src/xds/cache/pgv.js';
import { encodeResource } from '../../src/xds/cache/envoy-protos.js';
import { echoEndpoint, echoRoute, echoService, edgeListener } from '../support/fixtures.js';

const res = (r: any): Resource => ({ ...r, labels: r.labels ?? {}, version: 1, createdAt: '', updatedAt: '', status: {} });
const registry = () => [echoService(), echoEndpoint('echo-1', 'v1'), echoEndpoint('echo-2', 'v2', 50062), echoEndpoint('echo-4', 'v2', 50064), echoRoute(), edgeListener()].map(res);
const proxyless = { kind: 'proxyless', cluster: '' } as const;
const envoy = { kind: 'envoy', cluster: 'default' } as const;

/** An IR a bug could produce: a cluster Envoy would reject (connect_timeout must be > 0). */
function broken(ir: IR): IR {
  return { ...ir, revision: ir.revision + 1, clusters: ir.clusters.map((c) => (c.name === 'echo/v2' ? { ...c, connectTimeoutMs: 0 } : c)) };
}

/** An IR whose route configuration points at a cluster it lacks: not consistent, so a group keeps its last good snapshot. */
function unserved(ir: IR): IR {
  return { ...ir, clusters: ir.clusters.filter((c) => c.name !== 'echo/v2') };
}

describe('snapshot cache: validation before publish, consistency, shared encodings', () => {
  it('keeps the last good resource when a new one breaks a PGV rule, and reports it on the owner', () => {
    const cache = new SnapshotCache(POLICY_KINDS);
    const ir = buildIR({ revision: 1, resources: registry() }, POLICY_KINDS);
    cache.setIR(ir);
    const good = cache.snapshot(proxyless)!;
    const goodV2 = good.types[TYPE.cluster].resources.get('echo/v2')!;
    assert.deepEqual(goodV2.violations, []);

    const pushed: string[] = [];
    cache.onUpdate((s) => pushed.push(s.key));
    cache.setIR(broken(ir));
    const after = cache.snapshot(proxyless)!;
    assert.equal(after.types[TYPE.cluster].resources.get('echo/v2'), goodV2, 'last good version stays');
    assert.equal(after.types[TYPE.cluster].version, good.types[TYPE.cluster].version, 'so nothing changes for clients');
    assert.deepEqual(pushed, [], 'and nothing is pushed');
    const issue = after.issues.find((i) => i.kind === 'Service' && i.name === 'echo');
    assert.ok(issue, JSON.stringify(after.issues));
    assert.match(issue!.message, /Cluster echo\/v2 violates Envoy's validation rules \(connect_timeout: must be > 0s\); the last good version stays/);
    assert.ok(cache.invalid > 0);
  });

  it('a group that never had a good snapshot gets nothing rather than an inconsistent one', () => {
    const cache = new SnapshotCache(POLICY_KINDS);
    cache.setIR(broken(buildIR({ revision: 1, resources: registry() }, POLICY_KINDS)));
    const snap = cache.snapshot(envoy)!;
    assert.equal(snap.types[TYPE.route].list.length, 0);
    assert.equal(snap.types[TYPE.cluster].list.length, 0);
    assert.ok(snap.issues.some((i) => /not published: route configuration edge points at cluster echo\/v2, which is missing/.test(i.message)), JSON.stringify(snap.issues));
  });

  it('a group kept on its last good snapshot still gets endpoint changes, the same in full and incremental builds (found by the equivalence test, seed 5)', () => {
    for (const incremental of [true, false]) {
      const cache = new SnapshotCache(POLICY_KINDS, { incremental });
      let resources = registry();
      cache.setIR(buildIR({ revision: 1, resources }, POLICY_KINDS));
      const good = cache.snapshot(envoy)!;
      cache.setIR(unserved(buildIR({ revision: 2, resources }, POLICY_KINDS)));
      const kept = cache.snapshot(envoy)!;
      assert.ok(kept.issues.some((i) => i.message.startsWith('not published: ')), 'the envoy group is kept on its last good snapshot');
      assert.equal(kept.types[TYPE.route], good.types[TYPE.route]);
      // While it is kept, echo-1 (echo/v1) changes weight.
      resources = resources.map((r: any) => (r.name === 'echo-1' ? { ...r, spec: { ...r.spec, weight: 7 } } : r));
      cache.setIR(unserved(buildIR({ revision: 3, resources }, POLICY_KINDS)));
      const after = cache.snapshot(envoy)!;
      const v1 = JSON.stringify(after.types[TYPE.endpoint].resources.get('echo/v1')!.json);
      assert.match(v1, /"load_balancing_weight":\{"value":7\}/, `incremental ${incremental}: the new weight reaches the proxies`);
      assert.notEqual(after.types[TYPE.endpoint].version, good.types[TYPE.endpoint].version);
      for (const t of [TYPE.cluster, TYPE.listener, TYPE.route]) assert.equal(after.types[t], good.types[t], `${t} stays the last good one`);
      assert.deepEqual(inconsistencies(after.types), [], 'and the kept snapshot is still consistent');
    }
  });

  it('detects every kind of inconsistency', () => {
    const cache = new SnapshotCache(POLICY_KINDS);
    cache.setIR(buildIR({ revision: 1, resources: registry() }, POLICY_KINDS));
    const types = { ...cache.snapshot(envoy)!.types };
    assert.deepEqual(inconsistencies(types), []);
    const drop = (t: string, name: string) => {
      const ts = (types as any)[t];
      const resources = new Map(ts.resources);
      resources.delete(name);
      (types as any)[t] = { ...ts, resources, list: [...resources.values()] };
    };
    drop(TYPE.cluster, 'echo/v1');
    drop(TYPE.route, 'edge');
    const msgs = inconsistencies(types).map((i) => i.message).sort();
    assert.deepEqual(msgs, ['endpoints echo/v1 have no cluster', 'listener edge needs route configuration edge, which is missing']);
  });

  it('versions are content hashes: two caches (replicas) agree, and identical resources are encoded once', () => {
    const a = new SnapshotCache(POLICY_KINDS);
    const b = new SnapshotCache(POLICY_KINDS);
    a.setIR(buildIR({ revision: 1, resources: registry() }, POLICY_KINDS));
    b.setIR(buildIR({ revision: 7, resources: registry().reverse() }, POLICY_KINDS));
    for (const t of [TYPE.cluster, TYPE.endpoint, TYPE.listener, TYPE.route]) {
      assert.equal(a.snapshot(envoy)!.types[t].version, b.snapshot(envoy)!.types[t].version);
      assert.equal(a.snapshot(proxyless)!.types[t].version, b.snapshot(proxyless)!.types[t].version);
    }
    // EDS is the same for both groups: one encoding, shared.
    assert.equal(a.snapshot(envoy)!.types[TYPE.endpoint].resources.get('echo/v1'), a.snapshot(proxyless)!.types[TYPE.endpoint].resources.get('echo/v1'));
  });

  it('PGV rules: required oneofs, repeated bounds, well-known regexes, nested Any payloads, wrapper ranges', () => {
    const v = (t: string, o: object) => validateEncoded(t, encodeResource(t, o)).map((x) => `${x.path}: ${x.message}`);
    assert.deepEqual(v(TYPE.route, { name: 'r', virtual_hosts: [{ name: 'v', domains: ['a'], routes: [{ match: { prefix: '/' } }] }] }), [
      'virtual_hosts[0].routes[0].action: one of route, redirect, direct_response, filter_action, non_forwarding_action is required',
    ]);
    assert.deepEqual(v(TYPE.route, { name: 'r', virtual_hosts: [{ name: 'v', domains: [], routes: [] }] }), ['virtual_hosts[0].domains: must have at least 1 item(s)']);
    assert.deepEqual(
      v(TYPE.endpoint, { cluster_name: 'c', endpoints: [{ load_balancing_weight: { value: 0 }, lb_endpoints: [{ endpoint: { address: { socket_address: { address: '1.2.3.4', port_value: 70000 } } } }] }] }),
      ['endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value: must be <= 65535', 'endpoints[0].load_balancing_weight.value: must be >= 1'],
    );
    assert.deepEqual(
      v(TYPE.listener, { name: 'l', api_listener: { api_listener: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager', stat_prefix: '', rds: { config_source: { ads: {} }, route_config_name: 'x' } } } }),
      ['api_listener.api_listener<HttpConnectionManager>.stat_prefix: must be at least 1 character(s)'],
    );
    assert.deepEqual(v(TYPE.cluster, { name: 'c', connect_timeout: { seconds: -1 }, lb_policy: 42 }), ['connect_timeout: must be > 0s', 'lb_policy: 42 is not a defined LbPolicy value']);
  });

  it('EDS fast path: patching endpoints equals a full rebuild, and leaves CDS/LDS/RDS untouched', () => {
    const before = registry();
    const full0 = buildIR({ revision: 1, resources: before }, POLICY_KINDS);
    const cache = new SnapshotCache(POLICY_KINDS);
    cache.setIR(full0);
    const s0 = cache.snapshot(envoy)!;
    // echo-2 turns unhealthy and a third v1 endpoint arrives.
    const after = before.map((r) => (r.name === 'echo-2' ? { ...r, spec: { ...r.spec, health: 'unhealthy' } } : r));
    after.push(res(echoEndpoint('echo-3', 'v1', 50063)));
    const svc = after.find((r) => r.kind === 'Service')! as any;
    const { ir, clusters } = patchEndpoints(full0, 2, [{ service: svc, durable: after.filter((r) => r.kind === 'Endpoint') as any }])!;
    const full = buildIR({ revision: 2, resources: after }, POLICY_KINDS);
    assert.deepEqual(ir, full, 'same IR as a full build');
    assert.deepEqual([...clusters].sort(), ['echo/v1', 'echo/v2']);
    const pushed: string[] = [];
    cache.onUpdate((x) => pushed.push(x.key));
    cache.setIR(ir, clusters);
    const s1 = cache.snapshot(envoy)!;
    for (const t of [TYPE.cluster, TYPE.listener, TYPE.route]) assert.equal(s1.types[t], s0.types[t], 'untouched (same object)');
    assert.notEqual(s1.types[TYPE.endpoint].version, s0.types[TYPE.endpoint].version);
    const fresh = new SnapshotCache(POLICY_KINDS);
    fresh.setIR(full);
    assert.equal(s1.types[TYPE.endpoint].version, fresh.snapshot(envoy)!.types[TYPE.endpoint].version, 'same EDS as a full build');
    assert.deepEqual(pushed, ['envoy/default']);
  });
});

/** A garbage collection, exposed at runtime when the test runner was not started with --expose-gc. */
function collect(): void {
  const g = (globalThis as { gc?: () => void }).gc ?? (setFlagsFromString('--expose-gc'), runInNewContext('gc') as () => void);
  g();
}

describe('snapshot cache: memory under many EDS-only changes', () => {
  it('2,000 EDS fast-path changes retain a bounded number of encodings and superseded snapshots', async () => {
    const cache = new SnapshotCache(POLICY_KINDS);
    let resources = registry();
    let ir = buildIR({ revision: 1, resources }, POLICY_KINDS);
    cache.setIR(ir);
    cache.snapshot(envoy);
    cache.snapshot(proxyless);
    const svc = resources.find((r) => r.kind === 'Service')! as any;
    // Every superseded EDS snapshot: once no group serves it, nothing should keep it (nor the encodings it lists) alive.
    const superseded: WeakRef<object>[] = [];
    const CHANGES = 2000;
    for (let i = 0; i < CHANGES; i++) {
      // echo-1's weight changes each time: new content for echo/v1, the same names, so always the fast path.
      resources = resources.map((r) => (r.name === 'echo-1' ? { ...r, spec: { ...r.spec, weight: 2 + i } } : r));
      const patched = patchEndpoints(ir, ir.revision + 1, [{ service: svc, durable: resources.filter((r) => r.kind === 'Endpoint') as any }]);
      assert.ok(patched, 'an EDS-only change');
      const old = cache.snapshot(envoy)!.types[TYPE.endpoint];
      ir = patched.ir;
      cache.setIR(ir, patched.clusters);
      const now = cache.snapshot(envoy)!.types[TYPE.endpoint];
      assert.notEqual(now.version, old.version, `change ${i} is a new EDS version`);
      superseded.push(new WeakRef(old));
    }
    const live = cache.snapshot(envoy)!.types[TYPE.endpoint].list.length + cache.snapshot(proxyless)!.types[TYPE.endpoint].list.length;
    // pruneEncodings keeps at most 2 × live + 1024 before it prunes (amortized), plus one build's worth.
    assert.ok(cache.encodingCount <= 2 * (live + 64) + 1024, `${cache.encodingCount} encodings retained for ${live} live EDS resources`);
    await new Promise((r) => setImmediate(r));
    collect();
    const alive = superseded.filter((w) => w.deref() !== undefined).length;
    // The one just superseded may still be referenced by a derivation of the current snapshot; a chain of them must not be.
    assert.ok(alive <= 2, `${alive} of ${CHANGES} superseded EDS snapshots still reachable`);
  });
});

describe('snapshot cache: memory under many route changes', () => {
  const CHANGES = 1000;
  it(`${CHANGES} weight changes of one route of 200 retain encodings of a bounded size, not every superseded RouteConfiguration`, () => {
    const ROUTES = 200;
    const routes = Array.from({ length: ROUTES }, (_, i) => ({ ...echoRoute(), name: `r${i}`, spec: { ...echoRoute().spec, hosts: [`h${i}.example`] } }));
    const base = [echoService(), echoEndpoint('echo-1', 'v1'), echoEndpoint('echo-2', 'v2', 50062), edgeListener(routes.map((r) => r.name))].map(res);
    const cache = new SnapshotCache(POLICY_KINDS);
    const at = (i: number) => buildIR({ revision: i + 1, resources: [...base, ...routes.map((r, k) => res(k === 0 ? { ...r, spec: { ...r.spec, rules: echoRoute(1 + (i % 99), 99 - (i % 99)).spec.rules } } : r))] }, POLICY_KINDS);
    cache.setIR(at(0));
    cache.snapshot(envoy);
    const liveChars = () => PUSH_ORDER.reduce((a, t) => a + cache.snapshot(envoy)!.types[t].list.reduce((b, e) => b + JSON.stringify(e.json).length + t.length + 1, 0), 0);
    const first = liveChars();
    let peak = 0;
    for (let i = 1; i <= CHANGES; i++) {
      const before = cache.snapshot(envoy)!.types[TYPE.route].version;
      cache.setIR(at(i));
      if (i % 99 !== 0) assert.notEqual(cache.snapshot(envoy)!.types[TYPE.route].version, before, `change ${i} is a new RouteConfiguration`);
      peak = Math.max(peak, cache.encodingKeyChars);
    }
    // Every change supersedes a RouteConfiguration of all 200 routes; keeping each would be CHANGES × its size.
    const routeChars = cache.snapshot(envoy)!.types[TYPE.route].list.reduce((a, e) => a + JSON.stringify(e.json).length, 0);
    const bound = first + Math.max(2 ** 20, first / 4);
    assert.ok(CHANGES * routeChars > 10 * bound, 'sized so that keeping every version would break the bound');
    // pruneEncodings lets key characters reach the live ones plus max(1 Mi, a quarter) before it prunes, plus one build's worth.
    assert.ok(peak <= bound + 2 * routeChars, `${peak} key characters retained for ${first} live`);
    assert.ok(liveChars() <= first * 1.1);
  });
});
