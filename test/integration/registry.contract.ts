import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { type Backend, startTestApp, type TestApp } from '../support/app.js';
import { type Committed, RegistryEvents } from '../../src/registry/registry-events.js';
import { REGISTRY_STORE, type RegistryStore } from '../../src/registry/store/registry-store.js';
import { parseLabelSelector } from '../../src/registry/label-selector.js';
import type { Change, Resource, ResourceInput } from '../../src/model/resources.js';
import { echoEndpoint, echoRoute, echoService, edgeListener, EXAMPLE_YAML, retryPolicy } from '../support/fixtures.js';

const KINDS: [string, string][] = [
  ['Listener', 'listeners'],
  ['Route', 'routes'],
  ['Policy', 'policies'],
  ['Service', 'services'],
];

/** Deletes everything through the API (cascade), so each test starts empty. */
async function reset(app: TestApp): Promise<void> {
  for (const [, plural] of KINDS) {
    const list = await app.http('GET', `/api/v1/${plural}?limit=1000`);
    for (const r of list.body.items) {
      const res = await app.http('DELETE', `/api/v1/${plural}/${r.name}?cascade=true`);
      assert.ok(res.status === 200 || res.status === 404, `reset ${plural}/${r.name}: ${res.text}`);
    }
  }
}

/** A Config written straight to the store: scope is `namespace/group`. */
function configInput(scope: string, name: string, labels: Record<string, string> = {}, content = 'x'): ResourceInput {
  const [namespace, group] = scope.split('/');
  return { kind: 'Config', namespace, group, name, labels, spec: { format: 'text', content } };
}

/** Same behaviour, whichever database backs the store. */
export function registryContract(backend: Backend): void {
  describe(`registry contract on ${backend}`, () => {
    let app: TestApp;
    before(async () => {
      app = await startTestApp(backend);
    });
    after(async () => {
      await app?.stop();
    });
    beforeEach(async () => {
      await reset(app);
    });

    const post = (path: string, body: unknown, h?: Record<string, string>) => app.http('POST', path, body, h);
    const apply = (body: unknown, query = '') =>
      app.http('POST', `/api/v1/apply${query}`, body, typeof body === 'string' ? { 'content-type': 'application/yaml' } : undefined);

    it('creates, reads, replaces, patches and deletes every kind, bumping versions', async () => {
      assert.equal((await post('/api/v1/policies', retryPolicy())).status, 201);
      const svc = await post('/api/v1/services', echoService({ policies: ['echo-retry'] }));
      assert.equal(svc.status, 201, svc.text);
      assert.equal(svc.body.version, 1);
      assert.equal(svc.headers.get('etag'), '"1"');
      assert.deepEqual(svc.body.labels, { team: 'core' });
      assert.equal(svc.body.kind, 'Service');
      assert.ok(Date.parse(svc.body.createdAt));
      assert.deepEqual(svc.body.status, {});

      const ep = await post('/api/v1/services/echo/endpoints', { spec: echoEndpoint('x', 'v1').spec });
      assert.equal(ep.status, 201, ep.text);
      assert.match(ep.body.name, /^echo-[0-9a-f]{8}$/, 'generated endpoint name');
      assert.equal(ep.body.service, 'echo');
      assert.equal((await post('/api/v1/services/echo/endpoints', echoEndpoint('echo-1', 'v1'))).status, 201);
      assert.equal((await post('/api/v1/routes', echoRoute())).status, 201);
      assert.equal((await post('/api/v1/listeners', edgeListener())).status, 201);

      for (const [kind, path] of [
        ['Service', '/api/v1/services/echo'],
        ['Endpoint', '/api/v1/services/echo/endpoints/echo-1'],
        ['Route', '/api/v1/routes/echo'],
        ['Listener', '/api/v1/listeners/edge'],
        ['Policy', '/api/v1/policies/echo-retry'],
      ]) {
        const got = await app.http('GET', path);
        assert.equal(got.status, 200, path);
        assert.equal(got.body.kind, kind);
        assert.equal(got.headers.get('etag'), `"${got.body.version}"`);
        // Status changes without a new version, so the ETag never answers a conditional GET with 304.
        const again = await app.http('GET', path, undefined, { 'if-none-match': got.headers.get('etag')! });
        assert.equal(again.status, 200, `${path}: a matching If-None-Match still gets the body (and its current status)`);
        assert.equal(again.body.kind, kind);
        assert.equal(again.headers.get('cache-control'), 'no-store');
      }

      const put = await app.http('PUT', '/api/v1/routes/echo', echoRoute(50, 50));
      assert.equal(put.status, 200, put.text);
      assert.equal(put.body.version, 2);
      assert.equal(put.body.spec.rules[1].backends[0].weight, 50);

      const same = await app.http('PUT', '/api/v1/routes/echo', echoRoute(50, 50));
      assert.equal(same.body.version, 2, 'identical PUT does not bump the version');

      const patched = await app.http('PATCH', '/api/v1/services/echo/endpoints/echo-1', { spec: { health: 'draining' } }, { 'content-type': 'application/merge-patch+json' });
      assert.equal(patched.status, 200, patched.text);
      assert.equal(patched.body.spec.health, 'draining');
      assert.equal(patched.body.spec.port, 50061, 'merge patch keeps other fields');
      assert.equal(patched.body.version, 2);
      assert.equal(patched.body.status.health.state, 'draining');
      assert.equal(patched.body.status.health.source, 'api', 'health records the source that set it');
      assert.equal((await app.http('GET', '/api/v1/services/echo/endpoints/echo-1')).body.status.health.state, 'draining');

      const list = await app.http('GET', '/api/v1/services/echo/endpoints');
      assert.equal(list.body.items.length, 2);

      assert.equal((await app.http('DELETE', '/api/v1/listeners/edge')).status, 200);
      assert.equal((await app.http('GET', '/api/v1/listeners/edge')).status, 404);
      assert.equal((await app.http('DELETE', '/api/v1/services/echo/endpoints/echo-1')).status, 200);
      assert.equal((await app.http('GET', '/api/v1/services/echo/endpoints/echo-1')).status, 404);
    });

    it('answers 404 for missing resources and 409 for duplicates', async () => {
      assert.equal((await app.http('GET', '/api/v1/services/nope')).status, 404);
      assert.equal((await app.http('PUT', '/api/v1/services/nope', { ...echoService(), name: 'nope' })).status, 404);
      assert.equal((await app.http('DELETE', '/api/v1/routes/nope')).status, 404);
      const { service: _s, ...ep } = echoEndpoint('a', 'v1');
      const noSvc = await post('/api/v1/services/nope/endpoints', ep);
      assert.equal(noSvc.status, 404);
      assert.match(noSvc.body.message, /Service nope not found/);
      assert.equal((await app.http('GET', '/api/v1/services/nope/endpoints')).status, 404);
      assert.equal((await post('/api/v1/services', echoService())).status, 201);
      const dup = await post('/api/v1/services', echoService());
      assert.equal(dup.status, 409);
      assert.match(dup.body.message, /already exists/);
    });

    it('enforces references: backends, subsets, listener routes, policies', async () => {
      const missing = await post('/api/v1/routes', echoRoute());
      assert.equal(missing.status, 400);
      assert.ok(missing.body.violations.some((v: any) => v.field === 'spec.rules[0].backends[0].service' && /Service echo does not exist/.test(v.message)), missing.text);

      await post('/api/v1/services', echoService());
      const badSubset = echoRoute();
      badSubset.spec.rules[0].backends[0].subset = 'v3';
      const r1 = await post('/api/v1/routes', badSubset);
      assert.equal(r1.status, 400);
      assert.deepEqual(r1.body.violations, [{ field: 'spec.rules[0].backends[0].subset', message: 'Service echo has no subset v3' }]);

      const l = await post('/api/v1/listeners', edgeListener(['nope']));
      assert.equal(l.status, 400);
      assert.equal(l.body.violations[0].field, 'spec.routes[0]');

      const p = await app.http('PUT', '/api/v1/services/echo', echoService({ policies: ['ghost'] }));
      assert.equal(p.status, 400);
      assert.equal(p.body.violations[0].field, 'spec.policies[0]');

      await post('/api/v1/policies', { name: 'hc', spec: { type: 'healthCheck', healthCheck: { protocol: 'grpc', intervalMs: 1000, timeoutMs: 500 } } });
      const wrongPlace = { ...echoRoute(), spec: { ...echoRoute().spec, policies: ['hc'] } };
      const r2 = await post('/api/v1/routes', wrongPlace);
      assert.equal(r2.status, 400);
      assert.match(r2.body.violations[0].message, /healthCheck, which cannot be attached to a Route/);

      // Nothing was half-written by the failed requests.
      assert.equal((await app.http('GET', '/api/v1/routes')).body.items.length, 0);
      assert.equal((await app.http('GET', '/api/v1/services/echo')).body.version, 1);
    });

    it('refuses to delete a referenced service with 409 and the referrers, unless cascade', async () => {
      assert.equal((await apply(EXAMPLE_YAML)).status, 200);
      const refused = await app.http('DELETE', '/api/v1/services/echo');
      assert.equal(refused.status, 409);
      assert.deepEqual(refused.body.referrers.map((r: any) => `${r.kind}/${r.name}`), ['Route/echo']);
      assert.equal((await app.http('GET', '/api/v1/services/echo')).status, 200, 'still there');

      const pol = await app.http('DELETE', '/api/v1/policies/echo-retry');
      assert.equal(pol.status, 409);
      const route = await app.http('DELETE', '/api/v1/routes/echo');
      assert.equal(route.status, 409);
      assert.deepEqual(route.body.referrers.map((r: any) => r.name), ['edge']);

      const subsetGone = await app.http('PATCH', '/api/v1/services/echo', { spec: { subsets: [{ name: 'v1', labels: { version: 'v1' } }] } });
      assert.equal(subsetGone.status, 409);
      assert.match(subsetGone.body.message, /subset v2 of Service echo is used by Route echo/);

      const cascaded = await app.http('DELETE', '/api/v1/services/echo?cascade=true');
      assert.equal(cascaded.status, 200, cascaded.text);
      const names = (xs: any[]) => xs.map((r) => `${r.kind}/${r.name}`).sort();
      assert.deepEqual(names(cascaded.body.deleted), ['Endpoint/echo-1', 'Route/echo', 'Service/echo']);
      assert.deepEqual(names(cascaded.body.updated), ['Listener/edge']);
      const edge = await app.http('GET', '/api/v1/listeners/edge');
      assert.deepEqual(edge.body.spec.routes, []);
      assert.equal((await app.http('GET', '/api/v1/routes/echo')).status, 404);
    });

    it('cascade keeps a route that still has other backends', async () => {
      await apply([echoService(), { ...echoService(), name: 'other' }]);
      const route = echoRoute();
      route.spec.rules[1].backends.push({ service: 'other', subset: 'v1', weight: 5 });
      assert.equal((await post('/api/v1/routes', route)).status, 201);
      const res = await app.http('DELETE', '/api/v1/services/other?cascade=true');
      assert.equal(res.status, 200);
      const r = await app.http('GET', '/api/v1/routes/echo');
      assert.equal(r.body.version, 2);
      assert.deepEqual(r.body.spec.rules[1].backends.map((b: any) => b.service), ['echo', 'echo']);
    });

    it('honours If-Match: 412 on a stale version, 400 on a malformed one', async () => {
      await post('/api/v1/services', echoService());
      const stale = await app.http('PUT', '/api/v1/services/echo', echoService({ port: 1 }), { 'If-Match': '"7"' });
      assert.equal(stale.status, 412);
      assert.equal(stale.body.currentVersion, 1);
      const ok = await app.http('PUT', '/api/v1/services/echo', echoService({ port: 2 }), { 'If-Match': '"1"' });
      assert.equal(ok.status, 200);
      assert.equal(ok.headers.get('etag'), '"2"');
      assert.equal((await app.http('PATCH', '/api/v1/services/echo', { labels: { a: 'b' } }, { 'If-Match': '"1"' })).status, 412);
      assert.equal((await app.http('DELETE', '/api/v1/services/echo', undefined, { 'If-Match': '"1"' })).status, 412);
      const bad = await app.http('PUT', '/api/v1/services/echo', echoService(), { 'If-Match': 'seven' });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.violations[0].field, 'If-Match');
      const bodyVersion = await app.http('PUT', '/api/v1/services/echo', { ...echoService({ port: 3 }), version: 1 });
      assert.equal(bodyVersion.status, 412, 'a version in the body is a precondition too');
      assert.equal((await app.http('DELETE', '/api/v1/services/echo', undefined, { 'If-Match': '"2"' })).status, 200);
    });

    it('20 concurrent updates with the same version: exactly one wins, the rest 412, nothing lost', async () => {
      await post('/api/v1/services', echoService());
      const since = (await app.http('GET', '/api/v1/changes?since=0&limit=1')).body.revision;
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          app.http('PUT', '/api/v1/services/echo', { ...echoService({ port: 1000 + i }), labels: { writer: String(i) } }, { 'If-Match': '"1"' }),
        ),
      );
      const statuses = results.map((r) => r.status).sort();
      assert.deepEqual(statuses, [200, ...Array(19).fill(412)]);
      const winner = results.find((r) => r.status === 200)!;
      const now = await app.http('GET', '/api/v1/services/echo');
      assert.equal(now.body.version, 2);
      assert.equal(now.body.spec.port, winner.body.spec.port, 'the stored state is the winner’s');
      const changes = await app.http('GET', `/api/v1/changes?since=${since}`);
      assert.equal(changes.body.changes.length, 1, 'one change logged');

      // Unconditional PATCHes are serialised: every label lands.
      await Promise.all(Array.from({ length: 20 }, (_, i) => app.http('PATCH', '/api/v1/services/echo', { labels: { [`k${i}`]: 'v' } })));
      const merged = await app.http('GET', '/api/v1/services/echo');
      for (let i = 0; i < 20; i++) assert.equal(merged.body.labels[`k${i}`], 'v', `label k${i} lost`);
      assert.equal(merged.body.version, 22);
    });

    it('applies a multi-document YAML atomically and reports created/updated/unchanged', async () => {
      const first = await apply(EXAMPLE_YAML);
      assert.equal(first.status, 200, first.text);
      assert.deepEqual(
        first.body.results.map((r: any) => `${r.kind}/${r.name}:${r.result}`),
        ['Service/echo:created', 'Endpoint/echo-1:created', 'Route/echo:created', 'Listener/edge:created', 'Policy/echo-retry:created'],
      );
      const again = await apply(EXAMPLE_YAML.replace('weight: 90', 'weight: 80'));
      assert.deepEqual(
        again.body.results.map((r: any) => r.result),
        ['unchanged', 'unchanged', 'updated', 'unchanged', 'unchanged'],
      );
      assert.equal(again.body.results[2].version, 2);

      const json = await apply({ resources: [echoEndpoint('echo-2', 'v2', 50062)] });
      assert.equal(json.status, 200);
      assert.equal(json.body.results[0].result, 'created');
    });

    it('apply is all or nothing: one bad document writes nothing', async () => {
      const before = (await app.http('GET', '/api/v1/changes?since=0&limit=1')).body.revision;
      const bad = EXAMPLE_YAML.replace('port: 10000', 'port: 70000');
      const res = await apply(bad);
      assert.equal(res.status, 400);
      assert.deepEqual(res.body.violations, [{ field: 'resources[3].spec.port', message: 'must be <= 65535' }]);
      // A reference error found only after earlier documents were written in the transaction.
      const badRef = EXAMPLE_YAML.replace('routes: [echo]', 'routes: [echo, ghost]');
      const res2 = await apply(badRef);
      assert.equal(res2.status, 400);
      assert.equal(res2.body.violations[0].field, 'resources[3].spec.routes[1]');
      assert.equal((await app.http('GET', '/api/v1/services')).body.items.length, 0);
      assert.equal((await app.http('GET', '/api/v1/changes?since=0&limit=1')).body.revision, before);
      const dup = await apply([echoService(), echoService()]);
      assert.equal(dup.status, 400);
      assert.match(dup.body.violations[0].message, /duplicates resources\[0\]/);
      const garbage = await apply('kind: [unclosed');
      assert.equal(garbage.status, 400);
      assert.match(garbage.body.violations[0].message, /invalid YAML/);
    });

    it('dry run validates and reports without writing', async () => {
      const before = (await app.http('GET', '/api/v1/changes?since=0&limit=1')).body.revision;
      const res = await apply(EXAMPLE_YAML, '?dryRun=true');
      assert.equal(res.status, 200);
      assert.equal(res.body.dryRun, true);
      assert.equal(res.body.results.length, 5);
      assert.ok(res.body.results.every((r: any) => r.result === 'created'));
      assert.equal((await app.http('GET', '/api/v1/services/echo')).status, 404);
      assert.equal((await app.http('GET', '/api/v1/changes?since=0&limit=1')).body.revision, before);
      const bad = await apply(EXAMPLE_YAML.replace('subset: v2, weight: 100', 'subset: v9, weight: 100'), '?dryRun=true');
      assert.equal(bad.status, 400, 'dry run reports reference errors too');
    });

    it('logs every committed change in order with a store-wide revision', async () => {
      const since = (await app.http('GET', '/api/v1/changes?since=0&limit=1')).body.revision;
      await apply(EXAMPLE_YAML);
      await app.http('PATCH', '/api/v1/routes/echo', { labels: { x: 'y' } }, { 'x-switchyard-actor': 'alice' });
      await app.http('DELETE', '/api/v1/services/echo?cascade=true');
      const res = await app.http('GET', `/api/v1/changes?since=${since}&limit=1000`);
      const cs = res.body.changes;
      assert.deepEqual(
        cs.map((c: any) => `${c.op} ${c.kind}/${c.name}@${c.version}`),
        [
          'create Policy/echo-retry@1',
          'create Service/echo@1',
          'create Endpoint/echo-1@1',
          'create Route/echo@1',
          'create Listener/edge@1',
          'update Route/echo@2',
          'update Listener/edge@2',
          'delete Route/echo@3',
          'delete Endpoint/echo-1@2',
          'delete Service/echo@2',
        ],
      );
      cs.forEach((c: any, i: number) => assert.equal(c.revision, since + 1 + i, 'gapless, increasing'));
      assert.equal(cs[5].actor, 'alice');
      assert.equal(res.body.revision, since + cs.length);
      const page = await app.http('GET', `/api/v1/changes?since=${since + 3}&limit=2`);
      assert.deepEqual(page.body.changes.map((c: any) => c.revision), [since + 4, since + 5]);
      assert.equal(page.body.nextSince, since + 5, 'nextSince is a cursor: the last revision returned, not the head');
      assert.equal(page.body.revision, since + cs.length, 'revision is the head');
      // Reading on from nextSince, page by page, gets every change exactly once.
      const seen: number[] = [];
      for (let at = since; ; ) {
        const p = (await app.http('GET', `/api/v1/changes?since=${at}&limit=3`)).body;
        seen.push(...p.changes.map((c: any) => c.revision));
        if (!p.changes.length) break;
        at = p.nextSince;
      }
      assert.deepEqual(seen, cs.map((c: any) => c.revision));
      const bodies = (await app.http('GET', `/api/v1/changes?since=${since}&limit=2&withObjects=true`)).body.changes;
      assert.equal(bodies[0].object.kind, 'Policy');
      assert.equal(bodies[0].object.spec.type, 'retry');
      assert.equal(cs[0].object, undefined, 'bodies only when asked for');
    });

    it('announces each commit in-process with exactly the change-log entries it wrote; dry runs, no-ops and failures announce nothing', async () => {
      const events = app.app.get(RegistryEvents);
      const seen: Committed[] = [];
      const off = events.onCommitted((c) => seen.push(structuredClone(c)));
      try {
        const since = (await app.http('GET', '/api/v1/changes?since=0&limit=1')).body.revision;
        await apply(EXAMPLE_YAML);
        await apply(EXAMPLE_YAML); // unchanged: no revision
        await apply(EXAMPLE_YAML, '?dryRun=true');
        assert.equal((await app.http('PUT', '/api/v1/routes/echo', { ...echoRoute(), spec: { ...echoRoute().spec, hosts: ['BAD HOST'] } })).status, 400);
        await app.http('PATCH', '/api/v1/routes/echo', { labels: { x: 'y' } });
        await app.http('DELETE', '/api/v1/services/echo?cascade=true');
        const log = (await app.http('GET', `/api/v1/changes?since=${since}&limit=1000`)).body;
        assert.equal(seen.length, 3, 'one announcement per committed write');
        assert.deepEqual(
          seen.map((c) => c.revision),
          seen.map((c) => c.changes[c.changes.length - 1].revision),
          'the revision after each write is its last entry',
        );
        const announced = seen.flatMap((c) => c.changes);
        const logged = await app.app.get(REGISTRY_STORE).changes(since, 1000, { withObjects: true });
        assert.deepEqual(announced, logged.changes, 'the same entries, objects included, as a reader of the log gets');
        assert.equal(log.revision, seen[2].revision);
      } finally {
        off();
      }
    });

    it('paginates lists and filters by label selector', async () => {
      await post('/api/v1/services', echoService());
      const eps = Array.from({ length: 25 }, (_, i) => echoEndpoint(`ep-${String(i).padStart(2, '0')}`, i % 5 === 0 ? 'v2' : 'v1', 50000 + i));
      assert.equal((await apply(eps)).status, 200);
      const seen: string[] = [];
      let token = '';
      let pages = 0;
      do {
        const res = await app.http('GET', `/api/v1/services/echo/endpoints?limit=10${token ? `&pageToken=${token}` : ''}`);
        assert.equal(res.status, 200);
        seen.push(...res.body.items.map((r: any) => r.name));
        token = res.body.nextPageToken ?? '';
        pages++;
      } while (token);
      assert.equal(pages, 3);
      assert.deepEqual(seen, eps.map((e) => e.name));
      const v2 = await app.http('GET', '/api/v1/services/echo/endpoints?labelSelector=version=v2');
      assert.deepEqual(v2.body.items.map((r: any) => r.name), ['ep-00', 'ep-05', 'ep-10', 'ep-15', 'ep-20']);
      const notV2 = await app.http('GET', '/api/v1/services/echo/endpoints?labelSelector=version!%3Dv2&limit=100');
      assert.equal(notV2.body.items.length, 20);
      const inSet = await app.http('GET', `/api/v1/services/echo/endpoints?labelSelector=${encodeURIComponent('version in (v2,v3)')}`);
      assert.equal(inSet.body.items.length, 5);
      const svc = await app.http('GET', '/api/v1/services?labelSelector=team=core');
      assert.deepEqual(svc.body.items.map((r: any) => r.name), ['echo']);
      assert.equal((await app.http('GET', '/api/v1/services?labelSelector=team=other')).body.items.length, 0);
      const bad = await app.http('GET', '/api/v1/services?labelSelector=%3D%3Dx');
      assert.equal(bad.status, 400);
      assert.equal(bad.body.violations[0].field, 'labelSelector');
      assert.equal((await app.http('GET', '/api/v1/services?limit=0')).status, 400);
      assert.equal((await app.http('GET', '/api/v1/services?pageToken=%21%21')).status, 400);
    });

    it('answers 413 for oversized bodies and 415 for unsupported media types', async () => {
      const huge = JSON.stringify({ ...echoService(), labels: { a: 'x'.repeat(3 * 1024 * 1024) } });
      const big = await app.http('POST', '/api/v1/services', huge);
      assert.equal(big.status, 413);
      assert.equal(big.body.statusCode, 413);
      const text = await app.http('POST', '/api/v1/services', 'name: echo', { 'content-type': 'text/plain' });
      assert.equal(text.status, 415);
      const yamlOnCrud = await app.http('POST', '/api/v1/services', 'name: echo', { 'content-type': 'application/yaml' });
      assert.equal(yamlOnCrud.status, 415);
      const badJson = await app.http('POST', '/api/v1/services', '{"name":', { 'content-type': 'application/json' });
      assert.equal(badJson.status, 400);
      assert.equal((await app.http('GET', '/api/v1/services')).body.items.length, 0);
    });

    /* ---- the store port itself: scope prefixes, one key's history, explicit starting versions ---- */

    const store = () => app.app.get(REGISTRY_STORE) as RegistryStore;
    /** Removes every Config, straight through the store (reset only knows the routing kinds). */
    const removeConfigs = async () => {
      const all = await store().list('Config', undefined, { selector: [], limit: 1000, scopePrefix: '' });
      if (all.items.length) await store().write('contract', async (tx) => { for (const r of all.items) await tx.remove(r); });
    };
    const ids = (rs: Resource[]) => rs.map((r) => `${r.namespace}/${r.group}/${r.name}`);
    /** Every item of a scope-prefix listing, page by page; the cursors it handed out along the way. */
    const listAll = async (scopePrefix: string, limit: number, selector = '') => {
      const items: Resource[] = [];
      const cursors: string[] = [];
      let after: string | undefined;
      for (let pages = 0; ; pages++) {
        assert.ok(pages < 100, 'paging does not end');
        const page = await store().list('Config', undefined, { selector: parseLabelSelector(selector), limit, after, scopePrefix });
        assert.ok(page.items.length <= limit);
        items.push(...page.items);
        if (!page.last) break;
        cursors.push(page.last);
        after = page.last;
      }
      return { items, cursors };
    };

    it('lists every scope under a prefix, ordered by scope then name (bytewise), paging with scope\\u0000name', async () => {
      await removeConfigs();
      const written: [string, string, Record<string, string>?][] = [
        ['prod/orders', 'b.yaml', { team: 'pay' }],
        ['prod/orders', 'a.yaml'],
        ['prod/orders', 'Z.yaml', { team: 'pay' }],
        ['prod/orders-v2', 'a.yaml', { team: 'pay' }],
        ['prod/orders.v2', 'a.yaml'],
        ['prod/a_b', 'x'],
        ['prod/axb', 'x'],
        ['prod/a%b', 'x'],
        ['prodx/orders', 'a.yaml'],
        ['staging/orders', 'a.yaml', { team: 'pay' }],
      ];
      await store().write('contract', async (tx) => {
        for (const [scope, name, labels] of written) await tx.create(configInput(scope, name, labels));
        await tx.create({ kind: 'Service', name: 'orders', labels: {}, spec: echoService().spec });
      });
      const prod = [
        'prod/a%b/x',
        'prod/a_b/x',
        'prod/axb/x',
        'prod/orders/Z.yaml',
        'prod/orders/a.yaml',
        'prod/orders/b.yaml',
        'prod/orders-v2/a.yaml',
        'prod/orders.v2/a.yaml',
      ];
      const one = await store().list('Config', undefined, { selector: [], limit: 1000, scopePrefix: 'prod/' });
      assert.deepEqual(ids(one.items), prod, 'scope, then name, bytewise (upper case before lower case; - before . before /)');
      assert.equal(one.last, undefined, 'no cursor when nothing more follows');
      assert.deepEqual(one.items[3].spec, { content: 'x', format: 'text' });
      assert.equal(one.items[3].kind, 'Config');

      // Page by page, whatever the page size: the same items, each once, in the same order.
      for (const limit of [1, 2, 3, 7]) {
        const { items, cursors } = await listAll('prod/', limit);
        assert.deepEqual(ids(items), prod, `limit ${limit}`);
        assert.equal(cursors.length, Math.ceil(prod.length / limit) - 1, `limit ${limit}: a cursor after every full page that has more behind it`);
        for (const c of cursors) assert.match(c, /^prod\/[^\u0000]+\u0000[^\u0000]+$/, 'a cursor is scope\\u0000name');
      }
      const first = await store().list('Config', undefined, { selector: [], limit: 4, scopePrefix: 'prod/' });
      assert.equal(first.last, 'prod/orders\u0000Z.yaml');
      const rest = await store().list('Config', undefined, { selector: [], limit: 100, scopePrefix: 'prod/', after: first.last });
      assert.deepEqual(ids(rest.items), prod.slice(4));
      // A cursor need not name an existing config: it is a position.
      const mid = await store().list('Config', undefined, { selector: [], limit: 100, scopePrefix: 'prod/', after: 'prod/orders\u0000a.zzz' });
      assert.deepEqual(ids(mid.items), prod.slice(5));

      // The prefix is a literal: LIKE wildcards in it match only themselves.
      assert.deepEqual(ids((await listAll('prod/a_', 10)).items), ['prod/a_b/x']);
      assert.deepEqual(ids((await listAll('prod/a%', 10)).items), ['prod/a%b/x']);
      // A group prefix matches longer groups too (callers that want one group filter).
      assert.deepEqual(ids((await listAll('prod/orders', 10)).items), prod.slice(3));
      assert.deepEqual(ids((await listAll('prod', 100)).items), [...prod, 'prodx/orders/a.yaml']);
      assert.deepEqual(ids((await listAll('nope/', 10)).items), []);
      const everything = await listAll('', 3);
      assert.deepEqual(ids(everything.items), [...prod, 'prodx/orders/a.yaml', 'staging/orders/a.yaml'], 'the empty prefix is every Config, and only Configs');
      // Label selectors apply across scopes, and paging still sees each match once.
      assert.deepEqual(ids((await listAll('', 1, 'team=pay')).items), ['prod/orders/Z.yaml', 'prod/orders/b.yaml', 'prod/orders-v2/a.yaml', 'staging/orders/a.yaml']);
      assert.deepEqual(ids((await listAll('prod/', 2, '!team')).items), ['prod/a%b/x', 'prod/a_b/x', 'prod/axb/x', 'prod/orders/a.yaml', 'prod/orders.v2/a.yaml']);
      // Without a prefix, one exact scope, by name, as for endpoints.
      const scoped = await store().list('Config', 'prod/orders', { selector: [], limit: 2 });
      assert.deepEqual(ids(scoped.items), ['prod/orders/Z.yaml', 'prod/orders/a.yaml']);
      assert.equal(scoped.last, 'a.yaml');
      assert.deepEqual(ids((await store().list('Config', 'prod/orders', { selector: [], limit: 2, after: scoped.last })).items), ['prod/orders/b.yaml']);
      await removeConfigs();
      await app.http('DELETE', '/api/v1/services/orders');

      // The longest keys a Config may have: a 63-character namespace, a 128-character group and name.
      const long = { ns: `n${'-'.repeat(61)}n`, group: `g${'.'.repeat(126)}g`, name: `c${'_'.repeat(126)}c` };
      const longScope = `${long.ns}/${long.group}`;
      const stored = await store().write('contract', (tx) => tx.create(configInput(longScope, long.name)));
      assert.deepEqual([stored.namespace, stored.group, stored.name], [long.ns, long.group, long.name]);
      assert.deepEqual(ids((await listAll(`${long.ns}/`, 10)).items), [`${longScope}/${long.name}`]);
      assert.equal((await store().history({ kind: 'Config', scope: longScope, name: long.name })).length, 1);
      await removeConfigs();
    });

    it('reads one key\'s history: every change with its object, newest first with limit, paging back with before', async () => {
      await removeConfigs();
      const key = { kind: 'Config' as const, scope: 'prod/orders', name: 'app.txt' };
      const since = (await store().changes(0, 1)).revision;
      const v1 = await store().write('alice', (tx) => tx.create(configInput('prod/orders', 'app.txt', { team: 'pay' }, 'one')));
      // Noise: the same name in another scope, another name in the same scope, another kind of the same name.
      await store().write('bob', async (tx) => {
        await tx.create(configInput('prod/payments', 'app.txt'));
        await tx.create(configInput('prod/orders', 'app.txt.bak'));
      });
      const v2 = await store().write('bob', (tx) => tx.update(v1, { ...configInput('prod/orders', 'app.txt', { team: 'pay' }, 'two') }));
      const v3 = await store().write('carol', (tx) => tx.update(v2, { ...configInput('prod/orders', 'app.txt', {}, 'three') }));
      await store().write('dave', (tx) => tx.remove(v3));
      const v5 = await store().write('erin', (tx) => tx.create(configInput('prod/orders', 'app.txt', {}, 'five'), {}, { version: 5 }));
      assert.equal(v5.version, 5);

      const all = await store().history(key);
      assert.deepEqual(all.map((c) => `${c.op}@${c.version} by ${c.actor}`), ['create@1 by alice', 'update@2 by bob', 'update@3 by carol', 'delete@4 by dave', 'create@5 by erin'], 'oldest first without limit');
      for (let i = 1; i < all.length; i++) assert.ok(all[i].revision > all[i - 1].revision, 'store revisions increase');
      for (const c of all) {
        assert.deepEqual([c.kind, c.namespace, c.group, c.name], ['Config', 'prod', 'orders', 'app.txt']);
        assert.ok(!Number.isNaN(Date.parse(c.at)));
      }
      assert.deepEqual(all.map((c) => (c.object ? (c.object.spec as { content: string }).content : null)), ['one', 'two', 'three', null, 'five'], 'objects included; a delete has none');
      assert.deepEqual(all[0].object, { ...v1 }, 'the object is the resource as written');
      assert.equal(all[4].object!.version, 5);
      // The same entries, objects included, as a reader of the whole change log gets.
      const log = (await store().changes(since, 1000, { withObjects: true })).changes.filter((c: Change) => c.kind === 'Config' && c.namespace === 'prod' && c.group === 'orders' && c.name === 'app.txt');
      assert.deepEqual(all, log);

      const only2 = await store().history(key, { version: 2 });
      assert.deepEqual(only2, [all[1]]);
      assert.deepEqual(await store().history(key, { version: 4 }), [all[3]]);
      assert.deepEqual(await store().history(key, { version: 9 }), []);
      assert.deepEqual((await store().history(key, { limit: 2 })).map((c) => c.version), [5, 4], 'newest first with limit');
      assert.deepEqual(await store().history(key, { limit: 1 }), [all[4]]);
      assert.deepEqual((await store().history(key, { limit: 2, before: 4 })).map((c) => c.version), [3, 2], 'before: versions strictly below');
      assert.deepEqual((await store().history(key, { limit: 10, before: 2 })).map((c) => c.version), [1]);
      assert.deepEqual(await store().history(key, { limit: 10, before: 1 }), []);
      assert.deepEqual((await store().history(key, { limit: 100 })).map((c) => c.version), [5, 4, 3, 2, 1]);
      // Paging back from the newest, two at a time, sees every entry once.
      const paged: number[] = [];
      for (let before: number | undefined; ; ) {
        const page = await store().history(key, { limit: 2, before });
        paged.push(...page.map((c) => c.version));
        if (page.length < 2) break;
        before = page[page.length - 1].version;
      }
      assert.deepEqual(paged, [5, 4, 3, 2, 1]);
      assert.deepEqual(await store().history({ ...key, name: 'nope' }), [], 'a key never written has no history');
      assert.deepEqual((await store().history({ ...key, scope: 'prod/payments' })).map((c) => c.version), [1], 'keys are not mixed up');
      assert.deepEqual((await store().history({ ...key, kind: 'Service' })), []);

      // Inside a write: the committed history, then this transaction's own entries.
      const seen = await store().write('frank', async (tx) => {
        const before = await tx.history(key, { limit: 1 });
        const current = (await tx.get(key))!;
        await tx.update(current, configInput('prod/orders', 'app.txt', {}, 'six'));
        return { before, after: await tx.history(key, { limit: 2 }), all: await tx.history(key), v3: await tx.history(key, { version: 3 }) };
      });
      assert.deepEqual(seen.before, [all[4]]);
      assert.deepEqual(seen.after.map((c) => [c.version, c.op, c.actor]), [[6, 'update', 'frank'], [5, 'create', 'erin']]);
      assert.equal((seen.after[0].object!.spec as { content: string }).content, 'six');
      assert.deepEqual(seen.all.map((c) => c.version), [1, 2, 3, 4, 5, 6]);
      assert.deepEqual(seen.v3, [all[2]]);
      assert.deepEqual((await store().history(key, { limit: 1 })).map((c) => c.version), [6]);
      // A dry run's entries are rolled back with it.
      const dry = await store().write('grace', async (tx) => {
        await tx.remove((await tx.get(key))!);
        return tx.history(key, { limit: 1 });
      }, { dryRun: true });
      assert.deepEqual(dry.map((c) => [c.version, c.op]), [[7, 'delete']]);
      assert.deepEqual((await store().history(key, { limit: 1 })).map((c) => c.version), [6]);
      await removeConfigs();
    });

    it('creates with an explicit starting version: stored, logged and announced with it; updates go on from it', async () => {
      await removeConfigs();
      const key = { kind: 'Config' as const, scope: 'prod/orders', name: 'v.txt' };
      const announced: Change[] = [];
      const created = await store().write('alice', (tx) => tx.create(configInput('prod/orders', 'v.txt'), { revisions: { content: 7 } }, { version: 7 }), {
        committed: (c) => announced.push(...c.changes),
      });
      assert.equal(created.version, 7);
      assert.deepEqual(created.status, { revisions: { content: 7 } }, 'status as given');
      assert.deepEqual([created.kind, created.namespace, created.group, created.name], ['Config', 'prod', 'orders', 'v.txt']);
      const got = await store().get(key);
      assert.deepEqual(got, created);
      assert.deepEqual(announced.map((c) => [c.op, c.version, c.object?.version]), [['create', 7, 7]]);
      assert.deepEqual(await store().history(key), announced);
      const updated = await store().write('bob', (tx) => tx.update(got!, configInput('prod/orders', 'v.txt', {}, 'y')));
      assert.equal(updated.version, 8);
      await store().write('carol', (tx) => tx.remove(updated));
      assert.deepEqual((await store().history(key)).map((c) => `${c.op}@${c.version}`), ['create@7', 'update@8', 'delete@9']);
      // Without the option, version 1, whatever the history says.
      const plain = await store().write('dave', (tx) => tx.create(configInput('prod/orders', 'plain.txt')));
      assert.equal(plain.version, 1);
      assert.deepEqual(plain.status, {});
      const again = await store().write('erin', (tx) => tx.create(configInput('prod/orders', 'v.txt', {}, 'z'), undefined, { version: 10 }));
      assert.equal(again.version, 10);
      assert.deepEqual(again.status, {});
      // Through the API, a recreated config goes on from its history (create after a delete).
      assert.equal((await app.http('DELETE', '/api/v1/configs/prod/orders/v.txt')).status, 200);
      const recreated = await app.http('PUT', '/api/v1/configs/prod/orders/v.txt', { spec: { format: 'text', content: 'x' } });
      assert.equal(recreated.status, 200, recreated.text);
      assert.equal(recreated.body.version, 12);
      assert.deepEqual(recreated.body.status.revisions, { content: 12 });
      // A duplicate is still refused, whatever version it asks for.
      await assert.rejects(store().write('frank', (tx) => tx.create(configInput('prod/orders', 'v.txt'), {}, { version: 99 })), /already exists/);
      assert.equal((await store().get(key))!.version, 12);
      await removeConfigs();
    });
  });
}
