import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from '../support/app.js';
import { ConfigApp } from '../support/config-app.js';
import { ControlPlaneProcess } from '../support/control-plane.js';
import { TestEtcd } from '../support/etcd.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

const PATH = '/api/v1/configs/prod/shop/checkout.yaml';
const doc = (on: boolean, note = '') => `feature:\n  newCheckout: ${on}\n${note ? `note: ${note}\n` : ''}`;

async function eventually(check: () => Promise<void>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

describe('config centre with real app processes', () => {
  let app: TestApp;
  const apps: ConfigApp[] = [];
  before(async () => {
    app = await startTestApp('postgres', { XDS_DEBOUNCE_QUIET_MS: '10' });
  });
  after(async () => {
    await Promise.all(apps.map((a) => a.stop()));
    await app?.stop();
  });

  it('a write reaches two gRPC apps and a long-polling one within 1 s; gray by label, promote, rollback; each acknowledges', async () => {
    assert.equal((await app.http('PUT', PATH, { spec: { format: 'yaml', content: doc(false) } })).status, 200);
    const grpcA = ConfigApp.start({ servers: [`127.0.0.1:${app.grpcPort}`], instance: 'grpc-a', labels: { env: 'prod' } });
    const grpcB = ConfigApp.start({ servers: [`127.0.0.1:${app.grpcPort}`], instance: 'grpc-b', labels: { env: 'gray' } });
    const poller = ConfigApp.start({ servers: [app.base], transport: 'http', instance: 'poll-c', labels: { env: 'prod' } });
    apps.push(grpcA, grpcB, poller);
    const all = [grpcA, grpcB, poller];
    await Promise.all(all.map((a) => a.applied(1, 20_000)));
    await Promise.all(all.map((a) => a.waitFor((e) => e.event === 'connected')));
    // The long poller is parked in its next poll; give it a moment to get there.
    await new Promise((r) => setTimeout(r, 300));

    const t0 = Date.now();
    assert.equal((await app.http('PUT', PATH, { spec: { format: 'yaml', content: doc(true) } })).body.version, 2);
    const got = await Promise.all(all.map((a) => a.applied(2)));
    const took = got.map((e) => e.at - t0);
    console.log(`# write → applied in the app: ${took.join(', ')} ms (grpc, grpc, long poll)`);
    for (const [i, ms] of took.entries()) assert.ok(ms < 1000, `${all[i].instance} applied revision 2 after ${ms} ms`);
    assert.ok(got.every((e) => e.newCheckout === true));
    // Each says it applied revision 2, whichever transport it uses.
    await eventually(async () => {
      const inst = (await app.http('GET', `${PATH}/instances`)).body;
      assert.deepEqual(inst.items.map((i: any) => [i.instanceId, i.transport, i.applied]), [['grpc-a', 'grpc', 2], ['grpc-b', 'grpc', 2], ['poll-c', 'long-poll', 2]]);
      assert.deepEqual(inst.summary, { current: 3, gray: 0, behind: 0, failed: 0 });
    });

    // Gray to env=gray: only grpc-b gets the candidate.
    const gray = await app.http('PUT', `${PATH}/gray`, { content: doc(false, 'candidate'), target: { labels: { env: 'gray' } } });
    assert.equal(gray.status, 200, gray.text);
    const candidate = await grpcB.applied(3);
    assert.equal(candidate.gray, true);
    assert.equal(candidate.newCheckout, false);
    await eventually(async () => assert.equal((await app.http('GET', `${PATH}/instances`)).body.summary.gray, 1));
    assert.equal(grpcA.last('applied')!.revision, 2);
    assert.equal(poller.last('applied')!.revision, 2);

    // Promote: everyone gets it.
    const promoted = await app.http('POST', `${PATH}/gray/promote`);
    assert.equal(promoted.body.version, 4);
    await Promise.all(all.map((a) => a.applied(4)));
    assert.ok(all.every((a) => a.last('applied')!.newCheckout === false && a.last('applied')!.gray === false));

    // A config an app refuses is acknowledged with the reason.
    await app.http('PUT', PATH, { spec: { format: 'yaml', content: 'feature:\n  newCheckout: maybe\n' } });
    await eventually(async () => {
      const inst = (await app.http('GET', `${PATH}/instances`)).body;
      assert.deepEqual(inst.items.map((i: any) => i.error), Array(3).fill('feature.newCheckout must be true or false'));
      assert.equal(inst.summary.failed, 3);
    });

    // Rollback to revision 2: its content for everyone, as revision 6.
    const rb = await app.http('POST', `${PATH}/rollback`, { revision: 2 });
    assert.equal(rb.body.version, 6);
    const back = await Promise.all(all.map((a) => a.applied(6)));
    assert.ok(back.every((e) => e.newCheckout === true && !e.gray));
    await eventually(async () => assert.deepEqual((await app.http('GET', `${PATH}/instances`)).body.summary, { current: 3, gray: 0, behind: 0, failed: 0 }));
  });
});

describe('config centre across replicas and outages (PostgreSQL, etcd, control planes as processes)', () => {
  let etcd: TestEtcd;
  let db: TestDatabase;
  let cache: string;
  let a: ControlPlaneProcess;
  let b: ControlPlaneProcess;
  const apps: ConfigApp[] = [];
  before(async () => {
    etcd = await TestEtcd.start();
    db = await createTestDatabase();
    cache = await mkdtemp(join(tmpdir(), 'switchyard-config-cache-'));
    const env = { DATABASE_URL: db.url, ETCD_ENDPOINTS: etcd.endpoint, XDS_DEBOUNCE_QUIET_MS: '10', LEADER_TTL_SECONDS: '2' };
    a = await ControlPlaneProcess.create({ ...env, REPLICA_ID: 'replica-a' });
    b = await ControlPlaneProcess.create({ ...env, REPLICA_ID: 'replica-b' });
    await a.start();
    await b.start();
  });
  after(async () => {
    await Promise.all(apps.map((x) => x.stop('SIGKILL')));
    await a?.kill();
    await b?.kill();
    await db?.drop();
    await etcd?.stop();
    if (cache) await rm(cache, { recursive: true, force: true });
  });

  it('a write on replica A reaches a watcher on replica B; with A down it fails over; with both down it starts from its cache; it misses no revision', async () => {
    assert.equal((await a.http('PUT', PATH, { spec: { format: 'yaml', content: doc(false) } })).status, 200);
    // Watches B first (A is its second choice).
    const app1 = ConfigApp.start({ servers: [b.grpc, a.grpc], instance: 'pod-1', cache });
    apps.push(app1);
    await app1.applied(1, 20_000);
    await app1.waitFor((e) => e.event === 'connected' && e.server === b.grpc);

    // Written on A, delivered by B (through PostgreSQL and the etcd announcement).
    const t0 = Date.now();
    await a.http('PUT', PATH, { spec: { format: 'yaml', content: doc(true) } });
    const got = await app1.applied(2);
    console.log(`# write on replica A → applied by a watcher of replica B: ${got.at - t0} ms`);
    // The instances view is fleet-wide: A lists the instance B serves.
    await eventually(async () => assert.deepEqual((await a.http('GET', `${PATH}/instances`)).body.items.map((i: any) => [i.instanceId, i.replica, i.applied]), [['pod-1', 'replica-b', 2]]));

    // B dies: the app moves to A, which has two revisions it has not seen.
    await b.kill('SIGKILL');
    await a.http('PUT', PATH, { spec: { format: 'yaml', content: doc(false, 'three') } });
    await a.http('PUT', PATH, { spec: { format: 'yaml', content: doc(true, 'four') } });
    await app1.waitFor((e) => e.event === 'connected' && e.server === a.grpc);
    const four = await app1.applied(4);
    assert.equal(four.newCheckout, true);
    // Latest state: it gets the newest revision, never an older one after it.
    const revisions = app1.events.filter((e) => e.event === 'applied').map((e) => e.revision);
    assert.deepEqual(revisions, [...revisions].sort((x, y) => x - y));

    // Everything down: a fresh app process starts on its disk cache and serves it.
    await app1.stop();
    await a.kill('SIGKILL');
    const app2 = ConfigApp.start({ servers: [a.grpc, b.grpc], instance: 'pod-1', cache });
    apps.push(app2);
    const started = await app2.waitFor((e) => e.event === 'started', 15_000);
    assert.deepEqual([started.revision, started.fromCache, started.newCheckout], [4, true, true]);
    const listening = await app2.waitFor((e) => e.event === 'listening');
    const served = await (await fetch(`http://127.0.0.1:${listening.port}/`)).json();
    assert.deepEqual(served, { newCheckout: true, revision: 4 });

    // A comes back with a write made meanwhile: the app reconnects on its own and gets it.
    await a.start();
    await a.http('PUT', PATH, { spec: { format: 'yaml', content: doc(false, 'five') } });
    const five = await app2.applied(5, 15_000);
    assert.equal(five.newCheckout, false);
    assert.equal(app2.events.filter((e) => e.event === 'applied' && e.revision === 4).length, 0, 'what it held from the cache was not sent again');
  });
});
