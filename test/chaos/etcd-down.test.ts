import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type * as grpc from '@grpc/grpc-js';
import { KEYS, type LeaseHandle } from '../../src/coordination/coordination.js';
import { EtcdCoordination } from '../../src/coordination/etcd-coordination.js';
import { CHAOS_FULL, chaosScale, reportChaos } from '../support/chaos.js';
import { EdsFollower, fleetResources, HeartbeatLoop, heartbeatBody, metric, nacks, retry503, sleep, SteadyCalls, until } from '../support/chaos-etcd.js';
import { ControlPlaneProcess } from '../support/control-plane.js';
import { type EchoBackend, say, startEchoBackend } from '../support/echo-backends.js';
import { TestEtcd } from '../support/etcd.js';
import { echoRoute, echoService } from '../support/fixtures.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { eventually, useXds, xdsClient } from '../support/xds-client.js';

/** Heartbeat TTL: the outage is longer, so endpoints that expired naively would be gone. */
const TTL_S = chaosScale(30, 5);
const OUTAGE_MS = chaosScale(60_000, 8_000);
/** Heartbeat endpoints of the `fleet` service (fake addresses: counted, never called). */
const FLEET = chaosScale(200, 20);
/** Registry (PostgreSQL) writes through replica A while etcd is down. */
const WRITES_DURING = chaosScale(10, 3);
/** etcd-backed changes made right after etcd returns, while the watches reconnect. */
const CHANGES_AFTER = chaosScale(40, 10);

const fleetAddr = (i: number) => `10.77.${Math.floor(i / 250)}.${(i % 250) + 1}:8080`;
const RELISTS = 'switchyard_coordination_relists_total';
/** B's re-lists of its heartbeat-endpoint mirror, by reason (metric() throws if the counter is missing). */
const relists = async (app: ControlPlaneProcess) => ({
  compacted: await metric(app, `${RELISTS}{prefix="${KEYS.endpoints}",reason="compacted"}`),
  error: await metric(app, `${RELISTS}{prefix="${KEYS.endpoints}",reason="error"}`),
});

describe('chaos: etcd stopped, then restarted', { timeout: chaosScale(600_000, 240_000) }, () => {
  let etcd: TestEtcd;
  let db: TestDatabase;
  let a: ControlPlaneProcess;
  let b: ControlPlaneProcess;
  let backends: EchoBackend[] = [];
  let client: grpc.Client | undefined;
  let own: EtcdCoordination | undefined;
  const followers: EdsFollower[] = [];

  before(async () => {
    etcd = await TestEtcd.start();
    db = await createTestDatabase();
    const env = { DATABASE_URL: db.url, ETCD_ENDPOINTS: etcd.endpoint, XDS_DEBOUNCE_QUIET_MS: '20', XDS_POLL_INTERVAL_MS: '500', LEADER_TTL_SECONDS: '2' };
    a = await ControlPlaneProcess.create({ ...env, REPLICA_ID: 'etcd-down-a' });
    b = await ControlPlaneProcess.create({ ...env, REPLICA_ID: 'etcd-down-b' });
    await a.start();
    await b.start();
    backends = await Promise.all([startEchoBackend('hb-echo-1'), startEchoBackend('hb-echo-2')]);
  });

  after(async () => {
    client?.close();
    for (const f of followers) f.close();
    await own?.close().catch(() => undefined);
    await a?.kill('SIGTERM');
    await b?.kill('SIGTERM');
    await Promise.all(backends.map((x) => x.stop()));
    await db?.drop();
    await etcd?.stop();
  });

  it('heartbeat endpoints are not mass-expired; watches resume with no gap; every change made meanwhile arrives', async () => {
    const apply = await a.http('POST', '/api/v1/apply', [
      echoService(),
      echoRoute(100, 0),
      ...fleetResources(['echo', 'fleet']),
    ]);
    assert.equal(apply.status, 200, apply.text);

    // Heartbeat endpoints, registered and renewed through replica A: the echo backends (called) and the fleet (counted).
    const hb = new HeartbeatLoop(a, Math.floor((TTL_S * 1000) / 3));
    for (const [i, be] of backends.entries()) {
      assert.equal((await a.http('POST', '/api/v1/services/echo/endpoints', heartbeatBody(`echo-hb-${i}`, '127.0.0.1', be.port, TTL_S))).status, 201);
      hb.add('echo', `echo-hb-${i}`);
    }
    for (let i = 0; i < FLEET; i++) {
      const [addr, port] = fleetAddr(i).split(':');
      const r = await a.http('POST', '/api/v1/services/fleet/endpoints', heartbeatBody(`fleet-hb-${i}`, addr, Number(port), TTL_S));
      assert.equal(r.status, 201, r.text);
      hb.add('fleet', `fleet-hb-${i}`);
    }
    hb.start();
    const echoAddrs = backends.map((x) => `127.0.0.1:${x.port}`).sort();
    const fleetAll = Array.from({ length: FLEET }, (_, i) => fleetAddr(i)).sort();

    followers.push(new EdsFollower(a.xdsPort, 'eds-on-a', ['echo/v1', 'fleet/v1']), new EdsFollower(b.xdsPort, 'eds-on-b', ['echo/v1', 'fleet/v1']));
    const [onA, onB] = followers;
    await until(() => followers.every((f) => f.addresses('fleet/v1').length === FLEET && f.addresses('echo/v1').length === 2), 30_000, 'every heartbeat endpoint in EDS on both replicas', () => followers.map((f) => f.summary()));

    useXds(b.xdsPort, 'chaos-etcd-down');
    client = xdsClient('echo');
    const c = client;
    await eventually(async () => void (await say(c)), 30_000);
    const steady = new SteadyCalls(client);
    steady.start();
    const relistsBefore = await relists(b);

    // ---- Outage ----
    hb.mark();
    await etcd.pause();
    const down = Date.now();
    // Registry writes go to PostgreSQL, which is up; replica B hears of them through the change-log poll.
    const durable: string[] = [];
    for (let i = 0; i < WRITES_DURING; i++) {
      const r = await a.http('POST', '/api/v1/services/fleet/endpoints', { name: `fleet-durable-${i}`, spec: { address: '10.78.0.' + (i + 1), port: 9090, labels: { version: 'v1' } } });
      assert.equal(r.status, 201, `registry write during the etcd outage: ${r.text}`);
      durable.push(`10.78.0.${i + 1}:9090`);
    }
    const arrivedDuring = await until(() => durable.every((d) => onB.has('fleet/v1', d)), 15_000, 'registry writes made through A during the outage reach B');
    const readyB = await b.http('GET', '/ready');
    assert.equal(readyB.status, 200, 'etcd down only degrades readiness');
    assert.equal(readyB.body.details.coordination.status, 'degraded');
    const left = OUTAGE_MS - (Date.now() - down);
    if (left > 0) await sleep(left);
    const outageTally = Object.fromEntries(hb.statuses);
    for (const f of followers) {
      assert.deepEqual(f.removed, [], `nothing removed from EDS during the outage (${f === onA ? 'A' : 'B'})`);
      assert.deepEqual(f.addresses('fleet/v1'), [...fleetAll, ...durable].sort());
      assert.deepEqual(f.addresses('echo/v1'), echoAddrs);
    }
    assert.equal(steady.failures.length, 0, `steady calls during the outage: ${steady.failures.slice(0, 3)}`);
    // What a heartbeat gets while etcd is down: 503 with Retry-After (the instance retries), never 404 "expired".
    assert.ok(!outageTally[404], `no heartbeat was told its endpoint expired: ${JSON.stringify(outageTally)}`);
    const hbProbe = await a.http('PUT', '/api/v1/services/fleet/endpoints/fleet-hb-0/heartbeat');
    assert.equal(hbProbe.status, 503, hbProbe.text);
    assert.ok(hbProbe.headers.get('retry-after'), 'Retry-After on the 503');

    // ---- etcd restarts ----
    hb.mark();
    await etcd.resume();
    const up = Date.now();
    const outageMs = up - down;
    // Changes in etcd made at once, while B's watches are still reconnecting: an instance registering directly
    // on its own lease, and deletes of keys B knows.
    own = new EtcdCoordination([etcd.endpoint]);
    const lease: LeaseHandle = await own.grantLease(Math.max(TTL_S, 10));
    const direct: string[] = [];
    const stamp: number[] = [];
    for (let i = 0; i < CHANGES_AFTER; i++) {
      await own.put(KEYS.endpoint('fleet', `direct-${i}`), JSON.stringify({ spec: { address: `10.79.0.${i + 1}`, port: 7070, labels: { version: 'v1' } } }), { lease: lease.id });
      direct.push(`10.79.0.${i + 1}:7070`);
      stamp.push(Date.now());
    }
    const firstSeen = until(() => onB.has('fleet/v1', direct[0]), 120_000, 'B sees the first change after the restart').then(() => Date.now() - stamp[0]);
    // Through replica A: new heartbeat registrations and deregistrations (A's etcd client reconnects too: retry its 503s).
    const registered: string[] = [];
    for (let i = 0; i < CHANGES_AFTER / 2; i++) {
      const r = await retry503(() => a.http('POST', '/api/v1/services/fleet/endpoints', heartbeatBody(`fleet-new-${i}`, '10.80.0.' + (i + 1), 8080, TTL_S)), 120_000);
      assert.equal(r.status, 201, r.text);
      hb.add('fleet', `fleet-new-${i}`);
      registered.push(`10.80.0.${i + 1}:8080`);
    }
    const deregistered: string[] = [];
    for (let i = 0; i < CHANGES_AFTER / 2; i++) {
      hb.drop('fleet', `fleet-hb-${i}`);
      const r = await retry503(() => a.http('DELETE', `/api/v1/services/fleet/endpoints/fleet-hb-${i}`), 120_000);
      assert.equal(r.status, 200, r.text);
      deregistered.push(fleetAddr(i));
    }
    // One endpoint whose instance stopped heartbeating during the outage: its TTL runs again from the restart.
    const silent = `fleet-hb-${FLEET - 1}`;
    hb.drop('fleet', silent);
    const resumeMs = await firstSeen;
    const expected = [...fleetAll.filter((x) => !deregistered.includes(x) && x !== fleetAddr(FLEET - 1)), ...durable, ...direct, ...registered].sort();
    await until(
      () => followers.every((f) => JSON.stringify(f.addresses('fleet/v1')) === JSON.stringify(expected)),
      (TTL_S + 30) * 1000,
      'both replicas converge on every change made after the restart',
    );
    const convergedAfterRestartMs = Date.now() - up;
    const arrivedOnB = [...direct, ...registered].filter((x) => onB.has('fleet/v1', x)).length + deregistered.filter((x) => !onB.has('fleet/v1', x)).length;
    // How long after etcd returned every instance's heartbeat was answered 200 again (each had to, within its TTL).
    const heartbeatsBackMs = Math.max(...[...hb.targets.keys()].map((k) => (hb.firstOk.get(k) ?? Infinity) - up));
    for (const f of followers) {
      const list = f.addresses('fleet/v1');
      assert.equal(new Set(list).size, list.length, 'no duplicate endpoint');
      assert.deepEqual(f.addresses('echo/v1'), echoAddrs, 'the called backends never left EDS');
    }
    // Only what was deregistered, and the one that stopped heartbeating, ever left EDS.
    const allowed = new Set([...deregistered, fleetAddr(FLEET - 1)].map((x) => `fleet/v1 ${x}`));
    for (const f of followers) assert.deepEqual(f.removed.filter((r) => !allowed.has(r)), [], 'no heartbeat endpoint expired');
    const expiredAfterRestart = [...new Set(followers.flatMap((f) => f.removed))].filter((r) => !allowed.has(r)).length;
    const restListB = (await b.http('GET', '/api/v1/services/fleet/endpoints')).body.items.map((e: any) => e.name).sort();
    const restListA = (await a.http('GET', '/api/v1/services/fleet/endpoints')).body.items.map((e: any) => e.name).sort();
    assert.deepEqual(restListB, restListA, 'both replicas list the same endpoints');
    const relistsAfter = await relists(b);

    await steady.stop();
    await hb.stop();
    await lease.revoke();
    assert.equal(steady.failures.length, 0, `steady calls: ${steady.failures.slice(0, 3)}`);
    assert.ok(steady.ok > 0);
    assert.equal(await nacks(a), 0, 'NACKs on A');
    assert.equal(await nacks(b), 0, 'NACKs on B');
    // No compaction happened: the watches resumed from their revision, so B never had to list everything again.
    assert.deepEqual({ compacted: relistsAfter.compacted - relistsBefore.compacted, error: relistsAfter.error - relistsBefore.error }, { compacted: 0, error: 0 }, 'B re-listed its heartbeat endpoints');

    reportChaos({
      scenario: 'etcd stopped then restarted',
      criterion: 'Heartbeat endpoints are not mass-expired (fail static). Watches resume from the last revision with no gap, and every change made meanwhile through another replica arrives.',
      figures: {
        outageMs,
        ttlSeconds: TTL_S,
        heartbeatEndpoints: FLEET + 2,
        heartbeatEndpointsExpired: expiredAfterRestart,
        heartbeatAnswersDuringOutage: JSON.stringify(outageTally),
        registryWritesDuringOutage: WRITES_DURING,
        registryWritesArrivedOnB: durable.filter((d) => onB.has('fleet/v1', d)).length,
        registryWriteReachedBMs: arrivedDuring,
        etcdChangesAfterRestart: direct.length + registered.length + deregistered.length,
        etcdChangesArrivedOnB: arrivedOnB,
        watchResumeMs: resumeMs,
        convergedAfterRestartMs,
        heartbeatsBackMs,
        watchRelistsOnBCompacted: relistsAfter.compacted - relistsBefore.compacted,
        watchRelistsOnBError: relistsAfter.error - relistsBefore.error,
        steadyCalls: steady.ok,
        failedCalls: steady.failures.length,
        nacks: 0,
        full: CHAOS_FULL,
      },
    });
  });
});
