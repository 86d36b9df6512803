import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type * as grpc from '@grpc/grpc-js';
import { TYPE } from '../../src/translate/envoy-types.js';
import { CHAOS_FULL, chaosScale, reportChaos } from '../support/chaos.js';
import { retry503, sleep, until } from '../support/chaos-etcd.js';
import { addressOf, converged, fleetEndpoint, finalChecks, heldFleet, openRawClients, OutageWriter, seedAndWrite, steadyCallsVia } from '../support/chaos-postgres.js';
import type { FailoverAdsClient } from '../support/chaos-replica.js';
import { ControlPlaneProcess } from '../support/control-plane.js';
import { type EchoBackend, startEchoBackend } from '../support/echo-backends.js';
import { TestEtcd } from '../support/etcd.js';
import { PgCluster } from '../support/pg-cluster.js';

/*
 * Chaos (issue 16): PostgreSQL stopped (pg_ctl stop -m fast on a cluster the
 * test starts itself), with two replicas on it, raw ADS clients (SotW and
 * Delta) on each, and a grpc-js-xds client making steady calls.
 * Pass: xDS keeps serving the last state and no proxy loses a resource or an
 * endpoint; writes get 503 with Retry-After; /ready reports the database;
 * after PostgreSQL returns everything converges ≤ 30 s; no acknowledged
 * write is lost; 0 failed calls; 0 NACKs.
 */

const OUTAGE_MS = chaosScale(60_000, 5_000);
const WRITES_BEFORE = chaosScale(40, 10);
const WRITES_AFTER = chaosScale(20, 6);
const CONVERGE_MS = 30_000;

describe('chaos: PostgreSQL stopped, then restarted', { timeout: chaosScale(600_000, 180_000) }, () => {
  let cluster: PgCluster;
  let etcd: TestEtcd;
  let a: ControlPlaneProcess;
  let b: ControlPlaneProcess;
  let backends: EchoBackend[] = [];
  const raw: FailoverAdsClient[] = [];
  let client: grpc.Client | undefined;

  before(async () => {
    cluster = await PgCluster.create();
    const url = await cluster.createDatabase('switchyard');
    etcd = await TestEtcd.start();
    const env = { DATABASE_URL: url, ETCD_ENDPOINTS: etcd.endpoint, XDS_DEBOUNCE_QUIET_MS: '20', XDS_POLL_INTERVAL_MS: '500', LEADER_TTL_SECONDS: '2' };
    a = await ControlPlaneProcess.create({ ...env, REPLICA_ID: 'pg-down-a' });
    b = await ControlPlaneProcess.create({ ...env, REPLICA_ID: 'pg-down-b' });
    await a.start();
    await b.start();
    backends = await Promise.all([startEchoBackend('v1'), startEchoBackend('v2')]);
  });

  after(async () => {
    for (const c of raw) c.close();
    client?.close();
    await a?.kill('SIGTERM');
    await b?.kill('SIGTERM');
    await Promise.all(backends.map((x) => x.stop()));
    await etcd?.stop();
    await cluster?.destroy();
  });

  it('xDS serves the last state with 0 removals; writes 503 + Retry-After; /ready says so; converges ≤ 30 s; 0 lost writes', async () => {
    const acked = await seedAndWrite(a, b, backends, WRITES_BEFORE);
    const addrs = () => acked.map(addressOf).sort();
    raw.push(...(await openRawClients('pg-down', { a, b }, addrs())));
    const calls = await steadyCallsVia(a.xdsPort, 'chaos-pg-down');
    client = calls.client;
    const { steady } = calls;
    const heldBefore = raw.map((x) => Object.values(x.held.types).reduce((n, m) => n + m.size, 0));

    // ---- Outage ----
    await cluster.stop();
    const down = Date.now();
    const readyDownMs = await until(async () => {
      const ra = await a.http('GET', '/ready');
      const rb = await b.http('GET', '/ready');
      return [ra, rb].every((r) => r.status === 503 && r.body.details?.database?.status === 'down');
    }, 15_000, '/ready on both replicas reports the database down');
    const writer = new OutageWriter([a, b], 'during', 1000);
    writer.start();
    const left = OUTAGE_MS - (Date.now() - down);
    if (left > 0) await sleep(left);
    await writer.stop();
    const readyA = await a.http('GET', '/ready');
    assert.equal(readyA.status, 503);
    assert.equal(readyA.body.details.database.status, 'down');
    assert.equal((await a.http('GET', '/health')).status, 200, 'liveness is not about the database');
    assert.ok(writer.answers.length > 0);
    assert.deepEqual(writer.wrong(), [], `every write during the outage is a 503 with Retry-After: ${JSON.stringify(writer.tally())}`);
    for (const x of raw) {
      assert.deepEqual(x.removed, [], `${x.id}: nothing removed during the outage`);
      assert.deepEqual(heldFleet(x), addrs(), `${x.id} still holds every endpoint`);
    }
    assert.equal(steady.failures.length, 0, `steady calls during the outage: ${steady.failures.slice(0, 3)}`);
    const callsDuring = steady.ok;

    // ---- PostgreSQL returns ----
    await cluster.start();
    const up = Date.now();
    const outageMs = up - down;
    const readyUpMs = await until(async () => (await a.http('GET', '/ready')).status === 200 && (await b.http('GET', '/ready')).status === 200, CONVERGE_MS, 'both replicas ready again');
    acked.push(...writer.accepted);
    for (let i = 0; i < WRITES_AFTER; i++) {
      const e = fleetEndpoint(`after-${i}`, 2000 + i);
      const r = await retry503(() => (i % 2 ? b : a).http('POST', '/api/v1/services/fleet/endpoints', e), CONVERGE_MS);
      assert.equal(r.status, 201, r.text);
      acked.push(e);
    }
    await converged(raw, [a, b], acked, CONVERGE_MS - (Date.now() - up), 'every acknowledged write on both replicas and every proxy ≤ 30 s after PostgreSQL returned');
    const convergedMs = Date.now() - up;
    await steady.stop();
    await finalChecks(raw, steady, callsDuring, [a, b]);
    for (const x of raw) assert.ok(x.held.types[TYPE.route].has('edge'), `${x.id} holds the edge routes`);

    reportChaos({
      scenario: 'PostgreSQL stopped then restarted',
      criterion: 'xDS keeps serving the last state and 0 resources are removed from any proxy. Writes get 503 with Retry-After and /ready reports it. After PostgreSQL returns, everything converges ≤ 30 s, and 0 acknowledged writes are lost.',
      figures: {
        outageMs,
        replicas: 2,
        rawAdsClients: raw.length,
        resourcesHeldPerClient: Math.min(...heldBefore),
        resourcesRemoved: raw.reduce((n, x) => n + x.removed.length, 0),
        readyReportedDownMs: readyDownMs,
        writesDuringOutage: writer.answers.length,
        writeAnswersDuringOutage: JSON.stringify(writer.tally()),
        slowestOutageWriteMs: writer.slowestMs(),
        readyAgainMs: readyUpMs,
        convergedMs,
        acknowledgedWrites: acked.length,
        lostWrites: 0,
        steadyCalls: steady.ok,
        failedCalls: steady.failures.length,
        nacks: 0,
        full: CHAOS_FULL,
      },
    });
  });
});
