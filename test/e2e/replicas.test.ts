import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { KEYS } from '../../src/coordination/coordination.js';
import { EtcdCoordination } from '../../src/coordination/etcd-coordination.js';
import { decodeResource } from '../../src/xds/cache/envoy-protos.js';
import { TYPE } from '../../src/translate/envoy-types.js';
import { ChangeFeed } from '../../src/feed/change-feed.js';
import { AdsTestClient, envoyNode } from '../support/ads-client.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { TestEtcd } from '../support/etcd.js';
import { echoRoute, echoService, edgeListener } from '../support/fixtures.js';
import { bringUp, createTestDatabase, takeDown, type TestDatabase } from '../support/postgres.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Follows EDS for the given clusters on one replica and keeps the latest addresses per cluster. */
class EdsWatcher {
  readonly latest = new Map<string, string[]>();
  private readonly c: AdsTestClient;
  private stopped = false;
  constructor(port: number, id: string, private readonly names: string[]) {
    this.c = new AdsTestClient(port);
    this.c.send({ node: envoyNode(id), type_url: TYPE.endpoint, resource_names: names });
    void this.loop();
  }
  private async loop(): Promise<void> {
    while (!this.stopped) {
      const r = await this.c.next(60000).catch(() => undefined);
      if (!r) continue;
      for (const a of r.resources) {
        const d = decodeResource(a.type_url, a.value) as any;
        this.latest.set(d.cluster_name, (d.endpoints ?? []).flatMap((l: any) => l.lb_endpoints.map((e: any) => `${e.endpoint.address.socket_address.address}:${e.endpoint.address.socket_address.port_value}`)).sort());
      }
      this.c.send({ type_url: TYPE.endpoint, version_info: r.version_info, response_nonce: r.nonce, resource_names: this.names });
    }
  }
  has(cluster: string, addr: string): boolean {
    return this.latest.get(cluster)?.includes(addr) ?? false;
  }
  close(): void {
    this.stopped = true;
    this.c.close();
  }
}

async function until(check: () => boolean | Promise<boolean>, ms = 10000): Promise<number> {
  const t0 = Date.now();
  while (!(await check())) {
    if (Date.now() - t0 > ms) throw new Error('condition not met in time');
    await sleep(20);
  }
  return Date.now() - t0;
}

describe('several replicas on one PostgreSQL and one etcd', () => {
  let etcd: TestEtcd;
  let db: TestDatabase;
  let a: TestApp;
  let b: TestApp;
  const env = () => ({ DATABASE_URL: db.url, ETCD_ENDPOINTS: etcd.endpoint, XDS_DEBOUNCE_QUIET_MS: '20', XDS_POLL_INTERVAL_MS: '500', LEADER_TTL_SECONDS: '2' });

  before(async () => {
    etcd = await TestEtcd.start();
    db = await createTestDatabase();
    a = await startTestApp('postgres', { ...env(), REPLICA_ID: 'replica-a' });
    b = await startTestApp('postgres', { ...env(), REPLICA_ID: 'replica-b' });
    const r = await a.http('POST', '/api/v1/apply', [echoService(), echoRoute(), edgeListener()]);
    assert.equal(r.status, 200, r.text);
    const head = (await a.http('GET', '/api/v1/changes?since=0&limit=1')).body.revision;
    await until(async () => (await b.http('GET', '/api/v1/proxies')).body.revision === head);
  });
  after(async () => {
    await a?.stop().catch(() => undefined);
    await b?.stop().catch(() => undefined);
    await db?.drop();
    await etcd?.stop();
  });

  it('a change written through replica A reaches a proxy on replica B within 1 s', async () => {
    const c = new AdsTestClient(b.xdsPort);
    c.send({ node: envoyNode('on-b'), type_url: TYPE.listener });
    const first = await c.next();
    c.send({ type_url: TYPE.listener, version_info: first.version_info, response_nonce: first.nonce });
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = Date.now();
      assert.equal((await a.http('PATCH', '/api/v1/listeners/edge', { spec: { port: 12000 + i } })).status, 200);
      const r = await c.next(3000);
      times.push(Date.now() - t0);
      assert.equal((decodeResource(TYPE.listener, r.resources[0].value) as any).address.socket_address.port_value, 12000 + i);
      c.send({ type_url: TYPE.listener, version_info: r.version_info, response_nonce: r.nonce });
    }
    times.sort((x, y) => x - y);
    console.log(`# replica A write → proxy on B: median ${times[2]} ms, max ${times[4]} ms`);
    assert.ok(times[4] < 1000, `max ${times[4]} ms`);
    // Same content, same version on both replicas (A may still be inside its debounce when B has already pushed).
    const onB = (await b.http('GET', '/api/v1/proxies')).body.items.find((p: any) => p.id === 'on-b').types.LDS.lastSentVersion;
    let onA = '';
    for (let i = 0; i < 20 && onA !== onB; i++) {
      const d = new AdsTestClient(a.xdsPort);
      d.send({ node: envoyNode(`on-a-${i}`), type_url: TYPE.listener });
      onA = (await d.next()).version_info;
      d.close();
      if (onA !== onB) await sleep(100);
    }
    assert.equal(onA, onB);
    c.close();
  });

  it('heartbeat endpoints: registered on A, renewed on B, gone within TTL + 1 s after the last heartbeat, back on re-register', async () => {
    const eds = new EdsWatcher(b.xdsPort, 'eds-b', ['echo/v1']);
    const body = { name: 'hb-1', spec: { address: '10.9.0.1', port: 8080, labels: { version: 'v1' }, ttlSeconds: 2 } };
    const reg = await a.http('POST', '/api/v1/services/echo/endpoints', body);
    assert.equal(reg.status, 201, reg.text);
    assert.equal(reg.body.status.health.source, 'heartbeat');
    await until(() => eds.has('echo/v1', '10.9.0.1:8080'));
    for (let i = 0; i < 6; i++) {
      const hb = await b.http('PUT', '/api/v1/services/echo/endpoints/hb-1/heartbeat');
      assert.equal(hb.status, 200, hb.text);
      await sleep(500);
    }
    assert.ok(eds.has('echo/v1', '10.9.0.1:8080'), 'kept alive across replicas past its TTL');
    const listed = await b.http('GET', '/api/v1/services/echo/endpoints');
    assert.ok(listed.body.items.some((e: any) => e.name === 'hb-1'));
    const last = Date.now();
    await until(() => !eds.has('echo/v1', '10.9.0.1:8080'), 6000);
    const gone = Date.now() - last;
    console.log(`# heartbeat endpoint left EDS ${gone} ms after its last heartbeat (TTL 2000 ms)`);
    assert.ok(gone <= 3000, `${gone} ms`);
    assert.equal((await b.http('PUT', '/api/v1/services/echo/endpoints/hb-1/heartbeat')).status, 404);
    // Register-or-renew in one call.
    assert.equal((await b.http('PUT', '/api/v1/services/echo/endpoints/hb-1/heartbeat', body)).status, 200);
    await until(() => eds.has('echo/v1', '10.9.0.1:8080'));
    assert.equal((await a.http('DELETE', '/api/v1/services/echo/endpoints/hb-1')).status, 200);
    await until(() => !eds.has('echo/v1', '10.9.0.1:8080'), 1000);
    eds.close();
  });

  it('instances may register directly in etcd on their own lease: same endpoint set, same EDS', async () => {
    const eds = [new EdsWatcher(a.xdsPort, 'eds-a2', ['echo/v1']), new EdsWatcher(b.xdsPort, 'eds-b2', ['echo/v1'])];
    const own = new EtcdCoordination([etcd.endpoint]);
    const lease = await own.grantLease(2);
    await own.put(KEYS.endpoint('echo', 'direct-1'), JSON.stringify({ spec: { address: '10.9.0.2', port: 9000, labels: { version: 'v1' } } }), { lease: lease.id });
    await until(() => eds.every((e) => e.has('echo/v1', '10.9.0.2:9000')));
    const viaApi = await a.http('GET', '/api/v1/services/echo/endpoints/direct-1');
    assert.equal(viaApi.status, 200);
    await own.put(KEYS.endpoint('echo', 'bad'), '{"spec":{"address":"not-an-ip","port":1}}', { lease: lease.id });
    await sleep(300);
    assert.equal((await a.http('GET', '/api/v1/services/echo/endpoints/bad')).status, 404, 'invalid registrations are ignored');
    await lease.revoke();
    await until(() => eds.every((e) => !e.has('echo/v1', '10.9.0.2:9000')), 2000);
    await own.close();
    eds.forEach((e) => e.close());
  });

  it('one leader at a time, shown in /ready and /api/v1/proxies; failover within the lease TTL + 1 s', async () => {
    await until(async () => (await a.http('GET', '/ready')).body.details.coordination.leader !== null);
    const ra = (await a.http('GET', '/ready')).body.details.coordination;
    const rb = (await b.http('GET', '/ready')).body.details.coordination;
    assert.equal(ra.leader, rb.leader);
    assert.equal([ra.isLeader, rb.isLeader].filter(Boolean).length, 1, 'exactly one leads');
    assert.equal((await b.http('GET', '/api/v1/proxies')).body.leader.id, ra.leader);
    const [leader, follower] = ra.isLeader ? [a, b] : [b, a];
    const t0 = Date.now();
    await leader.stop();
    await until(async () => (await follower.http('GET', '/ready')).body.details.coordination.isLeader === true, 4000);
    console.log(`# leader failover took ${Date.now() - t0} ms (graceful stop)`);
    const fresh = await startTestApp('postgres', { ...env(), REPLICA_ID: 'replica-c' });
    if (leader === a) a = fresh;
    else b = fresh;
  });

  it('etcd down: no mass expiry, readiness degraded, registry changes still flow; clean recovery', async () => {
    const eds = new EdsWatcher(b.xdsPort, 'eds-b3', ['echo/v1']);
    const body = { name: 'hb-2', spec: { address: '10.9.0.3', port: 8080, labels: { version: 'v1' }, ttlSeconds: 3 } };
    assert.equal((await a.http('POST', '/api/v1/services/echo/endpoints', body)).status, 201);
    await until(() => eds.has('echo/v1', '10.9.0.3:8080'));
    await etcd.pause();
    await sleep(4500); // longer than the TTL
    assert.ok(eds.has('echo/v1', '10.9.0.3:8080'), 'not expired while etcd is unreachable');
    const ready = await b.http('GET', '/ready');
    assert.equal(ready.status, 200);
    assert.equal(ready.body.details.coordination.status, 'degraded');
    assert.equal((await b.http('PUT', '/api/v1/services/echo/endpoints/hb-2/heartbeat')).status, 503);
    // A registry write on A reaches B through the change log even without etcd.
    assert.equal((await a.http('POST', '/api/v1/services/echo/endpoints', { name: 'durable-1', spec: { address: '10.9.0.4', port: 1, labels: { version: 'v1' } } })).status, 201);
    await until(() => eds.has('echo/v1', '10.9.0.4:1'), 3000);
    await etcd.resume();
    await until(async () => (await b.http('PUT', '/api/v1/services/echo/endpoints/hb-2/heartbeat')).status === 200, 15000);
    assert.ok(eds.has('echo/v1', '10.9.0.3:8080'), 'still there after recovery');
    await until(async () => (await b.http('GET', '/ready')).body.details.coordination.status === 'up', 10000);
    await a.http('DELETE', '/api/v1/services/echo/endpoints/hb-2');
    await until(() => !eds.has('echo/v1', '10.9.0.3:8080'), 5000);
    eds.close();
  });

  it('PostgreSQL down: xDS keeps serving from memory and heartbeat endpoints still flow; writes 503', async () => {
    const eds = new EdsWatcher(b.xdsPort, 'eds-b4', ['echo/v1']);
    await until(() => eds.has('echo/v1', '10.9.0.4:1'));
    await takeDown(db);
    try {
      const fresh = new AdsTestClient(b.xdsPort);
      fresh.send({ node: envoyNode('new-while-db-down'), type_url: TYPE.cluster });
      assert.ok((await fresh.next()).resources.length > 0, 'a new proxy still gets config');
      fresh.close();
      assert.equal((await a.http('PATCH', '/api/v1/listeners/edge', { spec: { port: 13000 } })).status, 503);
      const own = new EtcdCoordination([etcd.endpoint]);
      const lease = await own.grantLease(5);
      await own.put(KEYS.endpoint('echo', 'direct-2'), JSON.stringify({ spec: { address: '10.9.0.5', port: 1, labels: { version: 'v1' } } }), { lease: lease.id });
      await until(() => eds.has('echo/v1', '10.9.0.5:1'), 5000);
      await lease.revoke();
      await own.close();
    } finally {
      await bringUp(db);
    }
    await until(async () => (await a.http('PATCH', '/api/v1/listeners/edge', { spec: { port: 13001 } })).status === 200, 10000);
    eds.close();
  });

  it('the leader (and only the leader) sweeps heartbeat endpoints of deleted services', async () => {
    assert.equal((await a.http('POST', '/api/v1/services', { ...echoService(), name: 'temp' })).status, 201);
    const reg = await b.http('POST', '/api/v1/services/temp/endpoints', { name: 't-1', spec: { address: '10.9.0.9', port: 1, ttlSeconds: 30 } });
    assert.equal(reg.status, 201, reg.text);
    assert.equal((await a.http('DELETE', '/api/v1/services/temp')).status, 200);
    await until(async () => (await b.http('GET', '/api/v1/services/temp/endpoints/t-1')).status === 404, 15000);
    const own = new EtcdCoordination([etcd.endpoint]);
    assert.equal(await own.get(KEYS.endpoint('temp', 't-1')), undefined, 'the key is gone from etcd');
    await own.close();
  });

  it('a replica applies every change exactly once and in order, across an etcd outage (no gaps, no duplicates)', async () => {
    const builder = b.app.get(ChangeFeed);
    const head = async () => (await a.http('GET', '/api/v1/changes?since=0&limit=1')).body.revision as number;
    await until(async () => builder.revision === (await head()));
    const since = builder.revision;
    const mark = builder.applied.length;
    const reads = builder.fullReads;
    const write = async (i: number) => assert.equal((await a.http('PATCH', '/api/v1/listeners/edge', { spec: { port: 14000 + i } })).status, 200);
    await write(0);
    await etcd.pause();
    for (let i = 1; i <= 3; i++) await write(i);
    await until(async () => builder.revision === (await head()), 5000); // via the change-log poll
    await etcd.resume();
    for (let i = 4; i <= 6; i++) await write(i);
    const end = await head();
    await until(() => builder.revision === end, 5000);
    const logged = (await a.http('GET', `/api/v1/changes?since=${since}&limit=1000`)).body.changes.map((c: any) => c.revision);
    assert.deepEqual(builder.applied.slice(mark), logged, 'exactly the change log, in order');
    assert.equal(builder.fullReads, reads, 'followed incrementally, no re-read needed');
  });
});
