import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AuditLog } from '../../src/audit/audit-log.js';
import { applyJsonPatch } from '../../src/common/json-patch.js';
import { Database } from '../../src/database/database.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { echoEndpoint, echoRoute, echoService, edgeListener, retryPolicy } from '../support/fixtures.js';
import { registryClient, unary } from '../support/grpc.js';
import { eventually } from '../support/xds-client.js';
import { prng } from '../support/prng.js';

type Json = any;

/*
 * Per-resource history, whole-registry and selective rollback, and the audit
 * trail, against a real PostgreSQL. The rollback property: after any sequence
 * of writes, rolling back to a revision gives exactly the export taken at it.
 */


const strip = (r: Json) => {
  const { version, createdAt, updatedAt, status, ...rest } = r;
  return rest;
};

describe('history, rollback and audit (PostgreSQL)', () => {
  let app: TestApp;
  let dir: string;
  let auditFile: string;
  const actor = (name: string) => ({ 'x-switchyard-actor': name });
  const ok = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await app.http(method, path, body, { 'x-switchyard-actor': 'tester', ...headers });
    assert.ok(res.status < 300, `${method} ${path}: ${res.status} ${res.text.slice(0, 400)}`);
    return res.body;
  };
  const head = async () => (await ok('GET', '/api/v1/changes?since=0&limit=1')).revision as number;

  /** Every resource of every kind, without server-owned fields, in a stable order. */
  async function exportAll(): Promise<Json[]> {
    const out: Json[] = [];
    for (const plural of ['policies', 'services', 'routes', 'listeners', 'rollouts']) {
      const items = (await ok('GET', `/api/v1/${plural}?limit=1000`)).items;
      out.push(...items.map(strip));
      if (plural === 'services') for (const s of items) out.push(...(await ok('GET', `/api/v1/services/${s.name}/endpoints?limit=1000`)).items.map(strip));
    }
    out.push(...(await ok('GET', '/api/v1/configs?limit=1000')).items.map(strip));
    return out;
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'switchyard-audit-'));
    auditFile = join(dir, 'audit.jsonl');
    app = await startTestApp('postgres', { AUDIT_LOG: auditFile });
  });
  after(async () => {
    await app?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('lists a route\'s revisions newest first, pages them, shows one as it was, and diffs two (JSON patch and YAML)', async () => {
    await ok('POST', '/api/v1/services', echoService(), actor('alice'));
    await ok('POST', '/api/v1/routes', echoRoute(90, 10), actor('alice'));
    await ok('PUT', '/api/v1/routes/echo', echoRoute(50, 50), actor('bob'));
    await ok('PATCH', '/api/v1/routes/echo', { labels: { owner: 'edge' } }, { 'content-type': 'application/merge-patch+json', ...actor('carol') });

    const h = await ok('GET', '/api/v1/routes/echo/history');
    assert.deepEqual(h.items.map((e: Json) => [e.version, e.op, e.actor]), [[3, 'update', 'carol'], [2, 'update', 'bob'], [1, 'create', 'alice']]);
    assert.ok(h.items[0].revision > h.items[1].revision && h.items[1].revision > h.items[2].revision, 'store revisions, newest first');
    assert.equal(h.nextBefore, undefined);
    const p1 = await ok('GET', '/api/v1/routes/echo/history?limit=2');
    assert.deepEqual(p1.items.map((e: Json) => e.version), [3, 2]);
    const p2 = await ok('GET', `/api/v1/routes/echo/history?limit=2&before=${p1.nextBefore}`);
    assert.deepEqual(p2.items.map((e: Json) => e.version), [1]);
    assert.equal(p2.nextBefore, undefined);

    const v1 = await app.http('GET', '/api/v1/routes/echo/history/1');
    assert.equal(v1.status, 200);
    assert.equal(v1.headers.get('etag'), '"1"');
    assert.deepEqual(v1.body.spec.rules[1].backends.map((b: Json) => b.weight), [90, 10]);
    assert.equal((await app.http('GET', '/api/v1/routes/echo/history/9')).status, 404);
    assert.equal((await app.http('GET', '/api/v1/routes/echo/history/zero')).body.violations[0].field, 'version');

    const d = await ok('GET', '/api/v1/routes/echo/history?diff=1..3');
    assert.equal(d.from, 1);
    assert.equal(d.to, 3);
    assert.deepEqual([...d.patch].sort((a: Json, b: Json) => a.path.localeCompare(b.path)), [
      { op: 'add', path: '/labels/owner', value: 'edge' },
      { op: 'replace', path: '/spec/rules/1/backends/0/weight', value: 50 },
      { op: 'replace', path: '/spec/rules/1/backends/1/weight', value: 50 },
    ]);
    const v3 = await ok('GET', '/api/v1/routes/echo/history/3');
    assert.deepEqual(applyJsonPatch(strip(v1.body), d.patch), strip(v3), 'the patch turns version 1 into version 3');
    assert.match(d.diff, /^--- Route\/echo@1$/m);
    assert.match(d.diff, /^-\s+weight: 90$/m);
    assert.match(d.diff, /^\+\s+weight: 50$/m);
    assert.match(d.diff, /^\+\s+owner: edge$/m);
    assert.equal((await ok('GET', '/api/v1/routes/echo/history?diff=2..')).to, 3, 'TO empty: the current version');
    const bad = await app.http('GET', '/api/v1/routes/echo/history?diff=3-1');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.violations[0].field, 'diff');
    assert.equal((await app.http('GET', '/api/v1/routes/nope/history')).status, 404);

    await ok('POST', '/api/v1/services/echo/endpoints', echoEndpoint('echo-1', 'v1'));
    await ok('PATCH', '/api/v1/services/echo/endpoints/echo-1', { spec: { health: 'draining' } }, { 'content-type': 'application/merge-patch+json' });
    const eh = await ok('GET', '/api/v1/services/echo/endpoints/echo-1/history');
    assert.deepEqual(eh.items.map((e: Json) => e.version), [2, 1]);
    assert.equal((await ok('GET', '/api/v1/services/echo/endpoints/echo-1/history/1')).spec.health, undefined);
    assert.deepEqual((await ok('GET', '/api/v1/services/echo/endpoints/echo-1/history?diff=1..2')).patch, [{ op: 'add', path: '/spec/health', value: 'draining' }]);
  });

  it('rolls the whole registry back across 20 random writes to exactly the earlier export', async () => {
    for (const seed of [1, 2, 3]) {
      const random = prng(seed);
      const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)];
      // A baseline, so the rollback restores and recreates as well as deletes.
      await ok('POST', '/api/v1/apply', [
        { kind: 'Policy', name: `p${seed}`, spec: { type: 'retry', retry: { attempts: 2 } } },
        { kind: 'Service', name: `s${seed}a`, spec: { protocol: 'http', port: 8080, policies: [`p${seed}`], subsets: [{ name: 'v1', labels: { version: 'v1' } }] } },
        { kind: 'Endpoint', name: 'e1', service: `s${seed}a`, spec: { address: '10.0.0.1', port: 80, labels: { version: 'v1' } } },
        { kind: 'Route', name: `r${seed}a`, spec: { hosts: [`r${seed}a.example`], rules: [{ backends: [{ service: `s${seed}a`, subset: 'v1', weight: 1 }] }] } },
        { kind: 'Listener', name: `l${seed}`, spec: { group: 'default', address: '0.0.0.0', port: 11000 + seed, protocol: 'http', routes: [`r${seed}a`] } },
        { kind: 'Config', namespace: 'prod', group: 'app', name: `c${seed}.yaml`, spec: { format: 'yaml', content: 'a: 1\n' } },
      ]);
      const at = await head();
      const before = await exportAll();

      const names = { svc: [`s${seed}a`, `s${seed}b`, `s${seed}c`], route: [`r${seed}a`, `r${seed}b`], policy: [`p${seed}`, `q${seed}`], cfg: [`c${seed}.yaml`, `d${seed}.yaml`] };
      const exists = async (path: string) => (await app.http('GET', path)).status === 200;
      const services = async () => (await ok('GET', '/api/v1/services?limit=1000')).items.map((s: Json) => s.name).filter((n: string) => names.svc.includes(n));
      const routes = async () => (await ok('GET', '/api/v1/routes?limit=1000')).items.map((s: Json) => s.name).filter((n: string) => names.route.includes(n));
      const log: string[] = [];
      for (let i = 0; i < 20; i++) {
        const what = pick(['service', 'service', 'endpoint', 'endpoint', 'route', 'route', 'policy', 'listener', 'config', 'delete']);
        const svcs = await services();
        const n = i + 1;
        if (what === 'service' || !svcs.length) {
          const name = pick(names.svc);
          const policies = random() < 0.5 && (await exists(`/api/v1/policies/p${seed}`)) ? [`p${seed}`] : [];
          await ok('POST', '/api/v1/apply', [{ kind: 'Service', name, labels: { n: String(n) }, spec: { protocol: 'http', port: 8000 + n, policies, subsets: [{ name: 'v1', labels: { version: 'v1' } }] } }]);
          log.push(`service ${name}`);
        } else if (what === 'endpoint') {
          const svc = pick(svcs);
          const name = pick(['e1', 'e2']);
          if (random() < 0.3 && (await exists(`/api/v1/services/${svc}/endpoints/${name}`))) await ok('DELETE', `/api/v1/services/${svc}/endpoints/${name}`);
          else await ok('POST', '/api/v1/apply', [{ kind: 'Endpoint', name, service: svc, spec: { address: `10.0.${n}.1`, port: 80 + n, weight: 1 + (n % 3), labels: { version: 'v1' } } }]);
          log.push(`endpoint ${svc}/${name}`);
        } else if (what === 'route') {
          const name = pick(names.route);
          await ok('POST', '/api/v1/apply', [{ kind: 'Route', name, spec: { hosts: [`${name}.example`], rules: [{ backends: svcs.slice(0, 2).map((s: string, j: number) => ({ service: s, subset: 'v1', weight: j + n })) }] } }]);
          log.push(`route ${name}`);
        } else if (what === 'policy') {
          const name = pick(names.policy);
          await ok('POST', '/api/v1/apply', [{ kind: 'Policy', name, spec: { type: 'retry', retry: { attempts: 1 + (n % 4) } } }]);
          log.push(`policy ${name}`);
        } else if (what === 'listener') {
          const rs = await routes();
          await ok('POST', '/api/v1/apply', [{ kind: 'Listener', name: `l${seed}`, labels: { n: String(n) }, spec: { group: 'default', address: '0.0.0.0', port: 11000 + seed, protocol: 'http', routes: rs } }]);
          log.push('listener');
        } else if (what === 'config') {
          const name = pick(names.cfg);
          await ok('PUT', `/api/v1/configs/prod/app/${name}`, { spec: { format: 'yaml', content: `a: ${n}\n` } });
          log.push(`config ${name}`);
        } else {
          // A cascading delete: references to it go, routes left with no rules go too.
          const victim = pick([...svcs.map((s: string) => `services/${s}`), ...(await routes()).map((r: string) => `routes/${r}`), `policies/p${seed}`, `configs/prod/app/c${seed}.yaml`]);
          if (await exists(`/api/v1/${victim}`)) await ok('DELETE', `/api/v1/${victim}${victim.startsWith('configs') ? '' : '?cascade=true'}`);
          log.push(`delete ${victim}`);
        }
      }
      const changed = await exportAll();
      assert.notDeepEqual(changed, before, `seed ${seed}: the writes changed something (${log.join(', ')})`);

      const rb = await ok('POST', '/api/v1/rollback', { toRevision: at }, actor('rollbacker'));
      assert.equal(rb.dryRun, false);
      assert.equal(rb.revision, await head(), 'the answer names the new head');
      assert.deepEqual(await exportAll(), before, `seed ${seed}: the export after the rollback is the one at revision ${at} (writes: ${log.join(', ')})`);
      const tail = (await ok('GET', `/api/v1/changes?since=${at}&limit=1000`)).changes.filter((c: Json) => c.actor === 'rollbacker');
      assert.ok(tail.length >= rb.results.filter((r: Json) => r.result !== 'unchanged').length, 'recorded as new changes by the actor');
      const again = await ok('POST', '/api/v1/rollback', { toRevision: at });
      assert.ok(again.results.every((r: Json) => r.result === 'unchanged'), 'rolling back twice changes nothing more');
    }
  });

  it('rolls back only the selected kinds and names; a dry run reports and writes nothing; the preview adds the xDS diff', async () => {
    await ok('POST', '/api/v1/apply', [
      { kind: 'Service', name: 'sel', spec: { protocol: 'http', port: 80, subsets: [{ name: 'v1', labels: { version: 'v1' } }] } },
      { kind: 'Route', name: 'sel-a', spec: { hosts: ['sel-a'], rules: [{ backends: [{ service: 'sel', subset: 'v1', weight: 1 }] }] } },
      { kind: 'Route', name: 'sel-b', spec: { hosts: ['sel-b'], rules: [{ backends: [{ service: 'sel', subset: 'v1', weight: 1 }] }] } },
      { kind: 'Listener', name: 'sel', spec: { group: 'sel', address: '0.0.0.0', port: 12000, protocol: 'http', routes: ['sel-a', 'sel-b'] } },
    ]);
    const at = await head();
    await ok('PATCH', '/api/v1/services/sel', { spec: { port: 81 } }, { 'content-type': 'application/merge-patch+json' });
    await ok('PATCH', '/api/v1/routes/sel-a', { spec: { hosts: ['sel-a', 'sel-a.example'] } }, { 'content-type': 'application/merge-patch+json' });
    await ok('PATCH', '/api/v1/routes/sel-b', { spec: { hosts: ['sel-b', 'sel-b.example'] } }, { 'content-type': 'application/merge-patch+json' });
    await ok('POST', '/api/v1/routes', { kind: 'Route', name: 'sel-new', spec: { hosts: ['sel-new'], rules: [{ backends: [{ service: 'sel', weight: 1 }] }] } });

    const h0 = await head();
    const dry = await ok('POST', '/api/v1/rollback', { toRevision: at, kinds: ['Route'], dryRun: true });
    assert.equal(dry.dryRun, true);
    assert.equal(dry.revision, h0);
    assert.deepEqual(dry.results.map((r: Json) => `${r.name}:${r.result}`).sort(), ['sel-a:restored', 'sel-b:restored', 'sel-new:deleted']);
    assert.equal(await head(), h0, 'a dry run writes nothing');
    assert.deepEqual((await ok('GET', '/api/v1/routes/sel-a')).spec.hosts, ['sel-a', 'sel-a.example']);

    // The preview compares with the state xDS is built from: wait for it to take in the writes above.
    await eventually(async () => assert.ok((await ok('GET', '/api/v1/proxies')).revision >= h0));
    const preview = await ok('POST', '/api/v1/preview/rollback', { toRevision: at, kinds: ['Route'] });
    assert.deepEqual(preview.results, dry.results);
    assert.ok(Object.values(preview.xds).some((g: Json) => g.RDS?.changed.length), `the routes change: ${JSON.stringify(preview.xds)}`);
    assert.equal(await head(), h0, 'a preview writes nothing');

    const one = await ok('POST', '/api/v1/rollback', { toRevision: at, kinds: ['Route'], names: ['sel-a'] });
    assert.deepEqual(one.results.map((r: Json) => [r.kind, r.name, r.result, r.fromVersion, r.version]), [['Route', 'sel-a', 'restored', 2, 3]]);
    assert.deepEqual((await ok('GET', '/api/v1/routes/sel-a')).spec.hosts, ['sel-a']);
    assert.deepEqual((await ok('GET', '/api/v1/routes/sel-b')).spec.hosts, ['sel-b', 'sel-b.example'], 'not selected: left alone');
    assert.equal((await ok('GET', '/api/v1/services/sel')).spec.port, 81, 'not selected: left alone');

    // Rolling back to before a resource existed deletes it.
    const gone = await ok('POST', '/api/v1/rollback', { toRevision: at, names: ['sel-new'] });
    assert.deepEqual(gone.results.map((r: Json) => `${r.name}:${r.result}`), ['sel-new:deleted']);
    assert.equal((await app.http('GET', '/api/v1/routes/sel-new')).status, 404);
    const last = (await ok('GET', '/api/v1/routes/sel-new/history')).items[0];
    assert.deepEqual([last.op, last.actor], ['delete', 'tester']);

    // gRPC: the same rollback service.
    const client = registryClient(app.grpcPort, 'grpc-roller');
    try {
      const g = await unary(client, 'Rollback', { toRevision: at, kinds: ['Service'], dryRun: true });
      assert.equal(g.dryRun, true);
      assert.deepEqual(g.results.map((r: Json) => [r.kind, r.name, r.result, Number(r.fromVersion)]), [['Service', 'sel', 'restored', 2]]);
      await assert.rejects(unary(client, 'Rollback', { toRevision: at, kinds: ['Nope'] }), (e: Json) => e.code === 3);
    } finally {
      client.close();
    }
  });

  it('refuses, with field paths and writing nothing, a rollback that would leave a reference dangling', async () => {
    await ok('POST', '/api/v1/apply', [
      { kind: 'Service', name: 'dep', spec: { protocol: 'http', port: 80 } },
      { kind: 'Route', name: 'dep', spec: { hosts: ['dep'], rules: [{ backends: [{ service: 'dep', weight: 1 }] }] } },
    ]);
    const at = await head();
    await ok('DELETE', '/api/v1/services/dep?cascade=true'); // takes the route with it
    assert.equal((await app.http('GET', '/api/v1/routes/dep')).status, 404);
    const h0 = await head();
    const res = await app.http('POST', '/api/v1/rollback', { toRevision: at, kinds: ['Route'] });
    assert.equal(res.status, 400, res.text);
    assert.deepEqual(res.body.violations, [{ field: 'resources[Route/dep].spec.rules[0].backends[0].service', message: 'Service dep does not exist' }]);
    assert.equal(await head(), h0, 'nothing written');

    // The other way round: deleting what a resource left in place still refers to.
    const before = await head();
    await ok('POST', '/api/v1/services', { kind: 'Service', name: 'late', spec: { protocol: 'http', port: 80 } });
    await ok('POST', '/api/v1/routes', { kind: 'Route', name: 'late', spec: { hosts: ['late'], rules: [{ backends: [{ service: 'late', weight: 1 }] }] } });
    const h1 = await head();
    const refused = await app.http('POST', '/api/v1/rollback', { toRevision: before, kinds: ['Service'] });
    assert.equal(refused.status, 400, refused.text);
    assert.equal(refused.body.violations[0].field, 'resources[Service/late]');
    assert.match(refused.body.violations[0].message, /Route late \(spec\.rules\[0\]\.backends\[0\]\.service\) still refers to it/);
    assert.equal(await head(), h1);
    // Both together are fine: the route goes first.
    const both = await ok('POST', '/api/v1/rollback', { toRevision: before, names: ['late'] });
    assert.deepEqual(both.results.map((r: Json) => `${r.kind}/${r.name}:${r.result}`), ['Route/late:deleted', 'Service/late:deleted']);

    const future = await app.http('POST', '/api/v1/rollback', { toRevision: (await head()) + 5 });
    assert.equal(future.body.violations[0].field, 'toRevision');
    const unknown = await app.http('POST', '/api/v1/rollback', { toRevision: 1, kinds: ['Gadget'], colour: 'red' });
    assert.equal(unknown.status, 400);
    assert.deepEqual(unknown.body.violations.map((v: Json) => v.field).sort(), ['colour', 'kinds']);
  });

  it('audits every committed write with actor and request id, and authentication failures; queryable and shipped as JSON lines', async () => {
    await ok('POST', '/api/v1/policies', retryPolicy('audited'), { 'x-switchyard-actor': 'auditor', 'x-request-id': 'req-42' });
    await ok('DELETE', '/api/v1/policies/audited', undefined, { 'x-switchyard-actor': 'auditor' });
    app.app.get(AuditLog).recordAuthFailure({ reason: 'bad token', remote: '10.1.2.3', method: 'GET', path: '/api/v1/services' });

    const mine = await ok('GET', '/api/v1/audit?actor=auditor');
    assert.deepEqual(mine.items.map((e: Json) => [e.type, e.kind, e.name, e.op, e.version]), [['write', 'Policy', 'audited', 'create', 1], ['write', 'Policy', 'audited', 'delete', 2]]);
    assert.equal(mine.items[0].requestId, 'req-42');
    assert.ok(mine.items[1].requestId, 'a request id is made up when none is sent');
    assert.ok(mine.items.every((e: Json) => Number.isInteger(e.revision)));
    const all = await ok('GET', '/api/v1/audit?limit=1000');
    const actors = new Set(all.items.map((e: Json) => e.actor));
    for (const a of ['alice', 'bob', 'carol', 'rollbacker', 'tester', 'auditor']) assert.ok(actors.has(a), `audited: ${a}`);
    assert.ok(!actors.has('grpc-roller'), 'its only call was a dry run, which commits nothing and so is not audited');
    const page = await ok('GET', `/api/v1/audit?since=${mine.items[0].id}&kind=Policy&actor=auditor`);
    assert.deepEqual(page.items.map((e: Json) => e.op), ['delete']);
    const byTime = await ok('GET', `/api/v1/audit?since=${encodeURIComponent(mine.items[0].at)}&actor=auditor`);
    assert.equal(byTime.items.length, 2);
    const auth = await ok('GET', '/api/v1/audit?type=auth_failure');
    assert.deepEqual(auth.items.map((e: Json) => [e.reason, e.remote, e.method, e.path]), [['bad token', '10.1.2.3', 'GET', '/api/v1/services']]);
    assert.equal((await app.http('GET', '/api/v1/audit?since=yesterday')).body.violations[0].field, 'since');

    // The JSON lines on the chosen sink (a file here): one object per line, the same events.
    const lines = await eventually(async () => {
      const text = await readFile(auditFile, 'utf8');
      const parsed = text.trim().split('\n').map((l) => JSON.parse(l));
      assert.ok(parsed.some((e) => e.type === 'auth_failure'));
      return parsed;
    });
    const fromFile = lines.filter((e: Json) => e.actor === 'auditor').map((e: Json) => [e.kind, e.name, e.op, e.revision]);
    assert.deepEqual(fromFile, mine.items.map((e: Json) => [e.kind, e.name, e.op, e.revision]));
  });

  it('a write succeeds while the audit table cannot be written; the event is stored once it can', async () => {
    const ds = app.app.get(Database).dataSource;
    await ds.query(`ALTER TABLE "audit_events" RENAME TO "audit_events_away"`);
    try {
      const res = await app.http('POST', '/api/v1/policies', retryPolicy('while-down'), actor('resilient'));
      assert.equal(res.status, 201, res.text);
    } finally {
      await new Promise((r) => setTimeout(r, 200));
      await ds.query(`ALTER TABLE "audit_events_away" RENAME TO "audit_events"`);
    }
    await eventually(async () => assert.deepEqual((await ok('GET', '/api/v1/audit?actor=resilient')).items.map((e: Json) => e.name), ['while-down']));
  });
});

describe('rollback and audit on the embedded PGlite', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp('pglite');
  });
  after(async () => {
    await app?.stop();
  });

  it('restores, deletes and audits as on PostgreSQL', async () => {
    const w = (method: string, path: string, body?: unknown) => app.http(method, path, body, { 'x-switchyard-actor': 'lite' });
    assert.equal((await w('POST', '/api/v1/services', echoService())).status, 201);
    const at = (await app.http('GET', '/api/v1/changes?since=0&limit=1')).body.revision;
    assert.equal((await w('PATCH', '/api/v1/services/echo', { spec: { port: 9 } })).status, 200);
    assert.equal((await w('POST', '/api/v1/routes', echoRoute())).status, 201);
    assert.equal((await w('POST', '/api/v1/listeners', edgeListener())).status, 201);
    const rb = await w('POST', '/api/v1/rollback', { toRevision: at });
    assert.equal(rb.status, 200, rb.text);
    assert.deepEqual(rb.body.results.map((r: Json) => `${r.kind}/${r.name}:${r.result}`), ['Listener/edge:deleted', 'Route/echo:deleted', 'Service/echo:restored']);
    assert.equal((await app.http('GET', '/api/v1/services/echo')).body.spec.port, 50051);
    const audit = await app.http('GET', '/api/v1/audit?actor=lite');
    assert.equal(audit.status, 200, audit.text);
    assert.deepEqual(audit.body.items.map((e: Json) => `${e.op} ${e.kind}`), ['create Service', 'update Service', 'create Route', 'create Listener', 'delete Listener', 'delete Route', 'update Service']);
  });
});
