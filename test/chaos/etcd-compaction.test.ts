import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type * as grpc from '@grpc/grpc-js';
import { KEYS } from '../../src/coordination/coordination.js';
import { EtcdCoordination } from '../../src/coordination/etcd-coordination.js';
import { HEALTH_PREFIX } from '../../src/coordination/health-board.js';
import { CHAOS_FULL, chaosScale, reportChaos } from '../support/chaos.js';
import { EdsFollower, fleetResources, HeartbeatLoop, heartbeatBody, metric, nacks, SteadyCalls, TcpProxy, until } from '../support/chaos-etcd.js';
import { ControlPlaneProcess } from '../support/control-plane.js';
import { type EchoBackend, say, startEchoBackend } from '../support/echo-backends.js';
import { TestEtcd } from '../support/etcd.js';
import { echoRoute, echoService } from '../support/fixtures.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { eventually, useXds, xdsClient } from '../support/xds-client.js';

/*
 * Issue 16: etcd compaction while a replica is disconnected. Replica B reaches
 * etcd through a TcpProxy; while it is cut off, heartbeat endpoints change
 * through replica A (registered, deregistered, expired, health changed) and
 * etcd's history is compacted past everything B saw. When B is let through
 * again its watches cannot resume: it must notice the compaction, list
 * everything again, and end up with exactly what A has.
 */

/** Heartbeat TTL: short, so that endpoints can expire during the partition. */
const TTL_S = chaosScale(5, 3);
/** Heartbeat endpoints of the `fleet` service before the partition (fake addresses: counted, never called). */
const FLEET = chaosScale(200, 20);
/** Changes of each kind made through A during the partition. */
const NEW = chaosScale(50, 5);
const DEREGISTERED = chaosScale(40, 4);
const EXPIRED = chaosScale(30, 3);
const HEALTH_CHANGED = chaosScale(30, 3);

const fleetAddr = (i: number) => `10.81.${Math.floor(i / 250)}.${(i % 250) + 1}:8080`;
const newAddr = (i: number) => `10.82.${Math.floor(i / 250)}.${(i % 250) + 1}:8080`;
const RELISTS = 'switchyard_coordination_relists_total';
const PREFIXES = [KEYS.endpoints, HEALTH_PREFIX];

/** A replica's re-list counter, per prefix and reason (metric() throws when a sample is missing). */
async function relists(app: ControlPlaneProcess): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const prefix of PREFIXES) for (const reason of ['compacted', 'error']) out[`${prefix} ${reason}`] = await metric(app, `${RELISTS}{prefix="${prefix}",reason="${reason}"}`);
  return out;
}

const delta = (after: Record<string, number>, before: Record<string, number>) => Object.fromEntries(Object.keys(after).map((k) => [k, after[k] - before[k]]));

/** The heartbeat endpoints of `fleet` as a replica's REST API lists them, without the replica-local timestamps. */
async function restView(app: ControlPlaneProcess): Promise<string[]> {
  const r = await app.http('GET', '/api/v1/services/fleet/endpoints');
  assert.equal(r.status, 200, r.text);
  return r.body.items.map((e: any) => JSON.stringify({ name: e.name, labels: e.labels, spec: e.spec, version: e.version, status: e.status })).sort();
}

describe('chaos: etcd compaction while a replica is disconnected', { timeout: chaosScale(600_000, 180_000) }, () => {
  let etcd: TestEtcd;
  let proxy: TcpProxy;
  let db: TestDatabase;
  let a: ControlPlaneProcess;
  let b: ControlPlaneProcess;
  let own: EtcdCoordination;
  let backends: EchoBackend[] = [];
  let client: grpc.Client | undefined;
  const followers: EdsFollower[] = [];

  before(async () => {
    etcd = await TestEtcd.start();
    proxy = await TcpProxy.start(etcd.clientPort);
    own = new EtcdCoordination([etcd.endpoint]);
    db = await createTestDatabase();
    const env = { DATABASE_URL: db.url, XDS_DEBOUNCE_QUIET_MS: '20', XDS_POLL_INTERVAL_MS: '500', LEADER_TTL_SECONDS: '2' };
    a = await ControlPlaneProcess.create({ ...env, ETCD_ENDPOINTS: etcd.endpoint, REPLICA_ID: 'etcd-compaction-a' });
    b = await ControlPlaneProcess.create({ ...env, ETCD_ENDPOINTS: proxy.endpoint, REPLICA_ID: 'etcd-compaction-b' });
    await a.start();
    await b.start();
    backends = await Promise.all([startEchoBackend('cmp-echo-1'), startEchoBackend('cmp-echo-2')]);
  });

  after(async () => {
    client?.close();
    for (const f of followers) f.close();
    await own?.close().catch(() => undefined);
    await a?.kill('SIGTERM');
    await b?.kill('SIGTERM');
    await Promise.all(backends.map((x) => x.stop()));
    await proxy?.close();
    await db?.drop();
    await etcd?.stop();
  });

  it('the cut-off replica detects the compacted revision, re-lists once per mirrored prefix, and ends up with exactly what the other replica has', async () => {
    const apply = await a.http('POST', '/api/v1/apply', [echoService(), echoRoute(100, 0), ...fleetResources(['echo', 'fleet'])]);
    assert.equal(apply.status, 200, apply.text);

    // Heartbeat endpoints, registered and renewed through A: the echo backends (called through B) and the fleet.
    const hb = new HeartbeatLoop(a, Math.floor((TTL_S * 1000) / 3));
    for (const [i, be] of backends.entries()) {
      assert.equal((await a.http('POST', '/api/v1/services/echo/endpoints', heartbeatBody(`echo-hb-${i}`, '127.0.0.1', be.port, TTL_S))).status, 201);
      hb.add('echo', `echo-hb-${i}`);
    }
    for (let i = 0; i < FLEET; i++) {
      const [addr, port] = fleetAddr(i).split(':');
      const r = await a.http('POST', '/api/v1/services/fleet/endpoints', heartbeatBody(`fleet-${i}`, addr, Number(port), TTL_S));
      assert.equal(r.status, 201, r.text);
      hb.add('fleet', `fleet-${i}`);
    }
    hb.start();
    const echoAddrs = backends.map((x) => `127.0.0.1:${x.port}`).sort();
    const fleetAll = Array.from({ length: FLEET }, (_, i) => fleetAddr(i)).sort();

    followers.push(new EdsFollower(a.xdsPort, 'eds-on-a', ['echo/v1', 'fleet/v1']), new EdsFollower(b.xdsPort, 'eds-on-b', ['echo/v1', 'fleet/v1']));
    const [onA, onB] = followers;
    await until(() => followers.every((f) => f.addresses('fleet/v1').length === FLEET && f.addresses('echo/v1').length === 2), 30_000, 'every heartbeat endpoint in EDS on both replicas', () => followers.map((f) => f.summary()));

    useXds(b.xdsPort, 'chaos-etcd-compaction');
    client = xdsClient('echo');
    const c = client;
    await eventually(async () => void (await say(c)), 30_000);
    const steady = new SteadyCalls(client);
    steady.start();
    const relistsBefore = { a: await relists(a), b: await relists(b) };

    // ---- Partition B from etcd ----
    const revisionBefore = (await own.list(KEYS.endpoints)).revision;
    const bBefore = JSON.stringify([...onB.detailed].sort());
    hb.mark();
    proxy.partition();
    const cut = Date.now();
    // Some instances stop heartbeating: their leases expire in etcd during the partition.
    const expired = Array.from({ length: EXPIRED }, (_, k) => FLEET - 1 - k);
    for (const i of expired) hb.drop('fleet', `fleet-${i}`);
    // Deregistrations, new registrations and health changes, all through A (A's etcd connection is fine).
    const deregistered = Array.from({ length: DEREGISTERED }, (_, i) => i);
    for (const i of deregistered) {
      hb.drop('fleet', `fleet-${i}`);
      const r = await a.http('DELETE', `/api/v1/services/fleet/endpoints/fleet-${i}`);
      assert.equal(r.status, 200, r.text);
    }
    for (let i = 0; i < NEW; i++) {
      const [addr, port] = newAddr(i).split(':');
      const r = await a.http('POST', '/api/v1/services/fleet/endpoints', heartbeatBody(`fleet-new-${i}`, addr, Number(port), TTL_S));
      assert.equal(r.status, 201, r.text);
      hb.add('fleet', `fleet-new-${i}`);
    }
    // Registering a known name again replaces it: here with a new health state (and a new lease; the heartbeats follow the name).
    const healthChanged = Array.from({ length: HEALTH_CHANGED }, (_, k) => DEREGISTERED + k);
    const healthBefore = new Map(healthChanged.map((i) => [fleetAddr(i), onA.detailed.get('fleet/v1')!.find((x) => x.startsWith(`${fleetAddr(i)} `))]));
    for (const i of healthChanged) {
      const [addr, port] = fleetAddr(i).split(':');
      const body = heartbeatBody(`fleet-${i}`, addr, Number(port), TTL_S);
      const r = await a.http('POST', '/api/v1/services/fleet/endpoints', { ...body, spec: { ...body.spec, health: 'draining' } });
      assert.equal(r.status, 201, r.text);
    }
    const expected = [
      ...fleetAll.filter((x) => !deregistered.map(fleetAddr).includes(x) && !expired.map(fleetAddr).includes(x)),
      ...Array.from({ length: NEW }, (_, i) => newAddr(i)),
    ].sort();
    // A sees everything, the expiries included (each within its TTL plus etcd's lease checks).
    const aConvergedMs = await until(() => JSON.stringify(onA.addresses('fleet/v1')) === JSON.stringify(expected), (TTL_S + 15) * 1000, 'A has every change made during the partition', () => onA.summary());
    for (const i of healthChanged) {
      const now = onA.detailed.get('fleet/v1')!.find((x) => x.startsWith(`${fleetAddr(i)} `));
      assert.notEqual(now, healthBefore.get(fleetAddr(i)), `the health of ${fleetAddr(i)} changed on A`);
    }
    // B is really cut off: it serves what it had (fail static) and says its coordination is degraded.
    assert.equal(JSON.stringify([...onB.detailed].sort()), bBefore, 'B changed nothing during the partition');
    assert.deepEqual(onB.removed, [], 'nothing left EDS on B during the partition');
    const readyB = await b.http('GET', '/ready');
    assert.equal(readyB.status, 200, 'a partition from etcd only degrades readiness');
    assert.equal(readyB.body.details.coordination.status, 'degraded');

    // Compact etcd past everything B saw.
    const compactedRevision = (await own.list(KEYS.endpoints)).revision;
    assert.ok(compactedRevision > revisionBefore + 1, `revisions advanced during the partition (${revisionBefore} → ${compactedRevision})`);
    await etcd.compact(compactedRevision);
    const partitionMs = Date.now() - cut;

    // ---- Heal ----
    proxy.heal();
    const healed = Date.now();
    const same = () => JSON.stringify([...onB.detailed].sort()) === JSON.stringify([...onA.detailed].sort()) && JSON.stringify(onB.addresses('fleet/v1')) === JSON.stringify(expected);
    await until(same, 60_000, "B's EDS equals A's", () => ({ a: onA.summary(), b: onB.summary() }));
    const consistentMs = Date.now() - healed;
    // Both mirrored prefixes' watches started before the compacted revision: each re-lists once, for that reason.
    await until(async () => Object.values(delta(await relists(b), relistsBefore.b)).reduce((x, y) => x + y, 0) >= PREFIXES.length, 30_000, 'B re-listed every mirrored prefix');
    const restA = await restView(a);
    const restB = await until(async () => JSON.stringify(await restView(b)) === JSON.stringify(restA), 10_000, "B's REST list equals A's").then(() => restView(b));
    assert.equal(restB.length, expected.length);

    // A stable end: a while later, still equal, no late re-list, and the echo backends never left B.
    await new Promise((r) => setTimeout(r, 2000));
    assert.ok(same(), "B's EDS still equals A's");
    assert.deepEqual(onB.addresses('echo/v1'), echoAddrs);
    assert.deepEqual(onA.addresses('echo/v1'), echoAddrs);
    const relistsB = delta(await relists(b), relistsBefore.b);
    const relistsA = delta(await relists(a), relistsBefore.a);
    assert.deepEqual(relistsB, { [`${KEYS.endpoints} compacted`]: 1, [`${KEYS.endpoints} error`]: 0, [`${HEALTH_PREFIX} compacted`]: 1, [`${HEALTH_PREFIX} error`]: 0 }, 're-lists on B');
    assert.deepEqual(relistsA, { [`${KEYS.endpoints} compacted`]: 0, [`${KEYS.endpoints} error`]: 0, [`${HEALTH_PREFIX} compacted`]: 0, [`${HEALTH_PREFIX} error`]: 0 }, 'A kept its watches (they were live)');
    // B dropped only what was really gone; it never held a stale or a duplicate endpoint at the end.
    const allowed = new Set([...deregistered, ...expired].map((i) => `fleet/v1 ${fleetAddr(i)}`));
    assert.deepEqual(onB.removed.filter((x) => !allowed.has(x)), [], 'B removed only deregistered and expired endpoints');
    assert.equal(new Set(onB.addresses('fleet/v1')).size, onB.addresses('fleet/v1').length, 'no duplicates on B');
    // Once consistent, how busy B's etcd client is: a watch failing in a loop would show as reads.
    const ranges0 = await etcd.metric('etcd_mvcc_range_total');
    await new Promise((r) => setTimeout(r, 3000));
    const etcdReadsIn3s = (await etcd.metric('etcd_mvcc_range_total')) - ranges0;

    await steady.stop();
    await hb.stop();
    assert.equal(steady.failures.length, 0, `steady calls through B: ${steady.failures.slice(0, 3)}`);
    assert.ok(steady.ok > 0);
    assert.equal(await nacks(a), 0, 'NACKs on A');
    assert.equal(await nacks(b), 0, 'NACKs on B');

    reportChaos({
      scenario: 'etcd compaction while a replica is disconnected',
      criterion: 'The replica detects the compacted revision, does a full re-list, and ends up consistent: its EDS and REST view equal the other replica\'s exactly.',
      figures: {
        heartbeatEndpointsBefore: FLEET + 2,
        heartbeatEndpointsAfter: expected.length + 2,
        registeredDuringPartition: NEW,
        deregisteredDuringPartition: DEREGISTERED,
        expiredDuringPartition: EXPIRED,
        healthChangedDuringPartition: HEALTH_CHANGED,
        ttlSeconds: TTL_S,
        revisionBeforePartition: revisionBefore,
        compactedRevision,
        partitionMs,
        aConvergedDuringPartitionMs: aConvergedMs,
        consistentAfterHealMs: consistentMs,
        relistsOnB: JSON.stringify(relistsB),
        relistsOnA: JSON.stringify(relistsA),
        etcdReadsIn3sAfter: etcdReadsIn3s,
        steadyCallsThroughB: steady.ok,
        failedCalls: steady.failures.length,
        nacks: 0,
        full: CHAOS_FULL,
      },
    });
  });
});
