import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type * as grpc from '@grpc/grpc-js';
import { CHAOS_FULL, chaosScale, reportChaos } from './chaos.js';
import { retry503, sleep, TcpProxy, until } from './chaos-etcd.js';
import { addressOf, converged, fleetEndpoint, finalChecks, heldFleet, openRawClients, OutageWriter, sameList, seedAndWrite, steadyCallsVia } from './chaos-postgres.js';
import type { FailoverAdsClient } from './chaos-replica.js';
import { ControlPlaneProcess } from './control-plane.js';
import { type EchoBackend, startEchoBackend } from './echo-backends.js';
import { TestEtcd } from './etcd.js';
import { createTestDatabase, type TestDatabase } from './postgres.js';

/*
 * Chaos (issue 16): a network partition between replica A and PostgreSQL
 * (a TCP proxy in the test), while replica B reaches PostgreSQL directly. Two
 * kinds: `reset` destroys A's open connections and refuses new ones;
 * `blackhole` drops every byte both ways and closes nothing, so A can only
 * find out by timing out (DATABASE_READ_TIMEOUT_MS, the pool's connect
 * timeout), and its blackholed connections stay dead after healing.
 * Pass, for A: writes 503 with Retry-After, /ready says the database is down,
 * xDS keeps serving with 0 removals. B keeps accepting writes and pushes them
 * to its proxies. A's registry mirror reads PostgreSQL, so B's writes cannot
 * reach A's proxies while A is cut off (measured, not hidden: A's proxies
 * keep A's last state, which is the fail-static a user wants). After the
 * partition heals A converges on B's state ≤ 30 s, with 0 lost writes.
 */

const PARTITION_MS = chaosScale(60_000, 5_000);
const WRITES_BEFORE = chaosScale(40, 10);
const WRITES_ON_B = chaosScale(30, 6);
const CONVERGE_MS = 30_000;

/** How the link fails: `reset` closes every connection at once (the peer knows); `blackhole` drops every byte and closes nothing (only timeouts tell). */
export type PartitionKind = 'reset' | 'blackhole';
/** A's read timeout in the test: the default (15 s) is for production, where statements may legitimately take seconds. */
const READ_TIMEOUT_MS = 2000;
/** A's connection pool. */
const POOL_SIZE = 10;
/** A write through A must be answered within the pool's connect timeout (5 s) or the read timeout, plus a margin: never hang. */
const ANSWER_BOUND_MS = 12_000;

/** Runs the scenario for one kind of partition (one per file: the grpc-js-xds client's bootstrap is process-wide). */
export function partitionScenario(kind: PartitionKind): void {
  describe(`chaos: network partition (${kind}) between one replica and PostgreSQL`, { timeout: chaosScale(600_000, 180_000) }, () => {
    let db: TestDatabase;
    let proxy: TcpProxy;
    let etcd: TestEtcd;
    let a: ControlPlaneProcess;
    let b: ControlPlaneProcess;
    let backends: EchoBackend[] = [];
    const raw: FailoverAdsClient[] = [];
    let client: grpc.Client | undefined;

    before(async () => {
      db = await createTestDatabase();
      const direct = new URL(db.url);
      proxy = await TcpProxy.start(Number(direct.port || 5432), direct.hostname);
      const viaProxy = new URL(db.url);
      viaProxy.hostname = '127.0.0.1';
      viaProxy.port = String(proxy.port);
      etcd = await TestEtcd.start();
      const env = { ETCD_ENDPOINTS: etcd.endpoint, XDS_DEBOUNCE_QUIET_MS: '20', XDS_POLL_INTERVAL_MS: '500', LEADER_TTL_SECONDS: '2' };
      a = await ControlPlaneProcess.create({ ...env, DATABASE_POOL_SIZE: String(POOL_SIZE), DATABASE_URL: viaProxy.toString(), REPLICA_ID: `pg-${kind}-a`, DATABASE_READ_TIMEOUT_MS: String(READ_TIMEOUT_MS) });
      b = await ControlPlaneProcess.create({ ...env, DATABASE_URL: db.url, REPLICA_ID: `pg-${kind}-b` });
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
      await proxy?.close();
      await etcd?.stop();
      await db?.drop();
    });

    it('A: writes 503 + Retry-After, /ready down, xDS with 0 removals; B keeps writing; A converges ≤ 30 s after healing; 0 lost writes', async () => {
      const acked = await seedAndWrite(a, b, backends, WRITES_BEFORE);
      const addrs = () => acked.map(addressOf).sort();
      raw.push(...(await openRawClients(`pg-${kind}`, { a, b }, addrs())));
      const onA = raw.filter((x) => x.port === a.xdsPort);
      const onB = raw.filter((x) => x.port === b.xdsPort);
      // The steady calls go through A, the replica that is cut off.
      const calls = await steadyCallsVia(a.xdsPort, `chaos-pg-${kind}`);
      client = calls.client;
      const { steady } = calls;
      const stateOfA = addrs();

      // ---- Partition ----
      // Fill A's pool first: connections open at the cut are the ones a blackhole leaves hanging (new ones never connect).
      await Promise.all(Array.from({ length: 2 * POOL_SIZE }, () => a.http('GET', '/ready')));
      if (kind === 'reset') proxy.partition();
      else proxy.blackhole();
      const cut = Date.now();
      const readyDownMs = await until(async () => {
        const r = await a.http('GET', '/ready');
        return r.status === 503 && r.body.details?.database?.status === 'down';
      }, 15_000, "A's /ready reports the database down");
      // Twice the pool's connections in readiness checks at once: each takes a connection, and a check that
    // times out leaves its query behind. Unless A gives such queries up, the pool is full of them for good.
    const pings = await Promise.all(Array.from({ length: 2 * POOL_SIZE }, () => a.http('GET', '/ready')));
    assert.deepEqual([...new Set(pings.map((r) => r.status))], [503]);
    const readyB = await b.http('GET', '/ready');
      assert.equal(readyB.status, 200, `B is not affected: ${readyB.text}`);
      const writerA = new OutageWriter([a], 'on-a', 1000);
      writerA.start();
      // B keeps accepting writes, and its own proxies get them.
      const viaB: ReturnType<typeof fleetEndpoint>[] = [];
      for (let i = 0; i < WRITES_ON_B; i++) {
        const e = fleetEndpoint(`on-b-${i}`, 2000 + i);
        const r = await b.http('POST', '/api/v1/services/fleet/endpoints', e);
        assert.equal(r.status, 201, `B accepts writes during A's partition: ${r.text}`);
        viaB.push(e);
        acked.push(e);
      }
      const reachedBMs = await until(() => onB.every((x) => sameList(heldFleet(x), addrs())), 15_000, "B's writes reach B's proxies during the partition");
      const left = PARTITION_MS - (Date.now() - cut);
      if (left > 0) await sleep(left);
      await writerA.stop();
      // What really happens: A cannot read the change log, so its proxies keep A's last state; count what got through.
      const viaBOnAProxies = Math.max(...onA.map((x) => viaB.filter((e) => heldFleet(x).includes(addressOf(e))).length));
      const readyA = await a.http('GET', '/ready');
      assert.equal(readyA.status, 503);
      assert.equal(readyA.body.details.database.status, 'down');
      assert.ok(writerA.answers.length > 0);
      assert.deepEqual(writerA.wrong(), [], `every write through A during the partition is a 503 with Retry-After: ${JSON.stringify(writerA.tally())}`);
      // Without a read timeout, a blackholed connection never answers: the write would hang, not fail.
      assert.ok(writerA.slowestMs() < ANSWER_BOUND_MS, `the slowest write through A was answered after ${writerA.slowestMs()} ms`);
      for (const x of raw) assert.deepEqual(x.removed, [], `${x.id}: nothing removed during the partition`);
      for (const x of onA) for (const addr of stateOfA) assert.ok(heldFleet(x).includes(addr), `${x.id} still holds ${addr}`);
      assert.equal(steady.failures.length, 0, `steady calls during the partition: ${steady.failures.slice(0, 3)}`);
      const callsDuring = steady.ok;

      // ---- Heal ----
      proxy.heal();
      const healed = Date.now();
      const partitionMs = healed - cut;
      acked.push(...writerA.accepted);
      const readyUpMs = await until(async () => (await a.http('GET', '/ready')).status === 200, CONVERGE_MS, 'A ready again');
      const after: ReturnType<typeof fleetEndpoint>[] = [];
      for (let i = 0; i < 4; i++) {
        const e = fleetEndpoint(`after-${i}`, 3000 + i);
        const r = await retry503(() => a.http('POST', '/api/v1/services/fleet/endpoints', e), CONVERGE_MS);
        assert.equal(r.status, 201, r.text);
        after.push(e);
        acked.push(e);
      }
      await converged(raw, [a, b], acked, CONVERGE_MS - (Date.now() - healed), "A converges on B's state, and every acknowledged write is on both replicas and every proxy, ≤ 30 s after healing");
      const convergedMs = Date.now() - healed;
      await steady.stop();
      await finalChecks(raw, steady, callsDuring, [a, b]);

      reportChaos({
        scenario: kind === 'reset' ? 'Network partition between a replica and PostgreSQL' : 'Network blackhole between a replica and PostgreSQL (bytes dropped, nothing closed)',
        criterion: 'The same as PostgreSQL down, for that replica only: A answers writes 503 with Retry-After, /ready says so, and its proxies lose nothing; B keeps accepting writes; A converges on B ≤ 30 s after healing, 0 lost writes.',
        figures: {
          partitionMs,
          rawAdsClients: raw.length,
          resourcesRemoved: raw.reduce((n, x) => n + x.removed.length, 0),
          aReadyReportedDownMs: readyDownMs,
          writesThroughADuringPartition: writerA.answers.length,
          writeAnswersOnA: JSON.stringify(writerA.tally()),
          slowestWriteAnswerOnAMs: writerA.slowestMs(),
          writesThroughBDuringPartition: viaB.length,
          bWritesReachedBProxiesMs: reachedBMs,
          bWritesOnAProxiesDuringPartition: viaBOnAProxies,
          aReadyAgainMs: readyUpMs,
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
}
