import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type * as grpc from '@grpc/grpc-js';
import { PACKAGE_ROOT } from '../../src/common/paths.js';
import { TYPE } from '../../src/translate/envoy-types.js';
import { decodeResource } from '../../src/xds/cache/envoy-protos.js';
import { AdsTestClient, grpcNode } from '../support/ads-client.js';
import { type HttpResult, request, startTestApp, type TestApp } from '../support/app.js';
import { attempt, type EchoBackend, type Outcome, startEchoBackend, tally } from '../support/echo-backends.js';
import { TestEtcd } from '../support/etcd.js';
import { echoService } from '../support/fixtures.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { trackPriorityRetentionTimers } from '../support/priority-timers.js';
import { assertShare } from '../support/shares.js';
import { endpointOf, eventually, nackCount, useXds, xdsClient } from '../support/xds-client.js';

/**
 * Requirement 4 of the rollout issue: the rollout state lives in PostgreSQL, so
 * a restarted control plane, or a new leader after the old one died, resumes a
 * rollout at the same step. Real processes, a real PostgreSQL database, a real
 * etcd and a real grpc-js-xds client calling real gRPC backends.
 */

const TTL_S = 2;
const TICK_MS = 100;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A control plane running as a child process (build/src/main.js). */
interface Plane {
  id: string;
  proc: ChildProcess;
  base: string;
  xdsPort: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
  http(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<HttpResult>;
}

const alive = (p: ChildProcess) => p.exitCode === null && p.signalCode === null;

/** Steady calls until stopped, keeping every outcome (none may fail). */
function steady(client: grpc.Client, concurrency = 3): { stop(): Promise<Outcome[]> } {
  const out: Outcome[] = [];
  let running = true;
  const loops = Array.from({ length: concurrency }, async () => {
    while (running) {
      out.push(await attempt(client));
      await sleep(2);
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return out;
    },
  };
}

/** The weights a control plane serves over xDS for the default rule of route echo, as a grpc-js client would read them (LDS echo → its RDS). */
async function servedWeights(xdsPort: number, nodeId: string): Promise<Record<string, number>> {
  const c = new AdsTestClient(xdsPort);
  try {
    c.send({ node: grpcNode(nodeId), type_url: TYPE.listener, resource_names: ['echo'] });
    const lds = await c.next(10000);
    assert.equal(lds.resources.length, 1, 'listener echo is served');
    const listener = decodeResource(TYPE.listener, lds.resources[0].value) as any;
    const routeName = listener.api_listener.api_listener.rds.route_config_name as string;
    c.send({ type_url: TYPE.listener, version_info: lds.version_info, response_nonce: lds.nonce, resource_names: ['echo'] });
    c.send({ type_url: TYPE.route, resource_names: [routeName] });
    const rds = await c.next(10000);
    assert.equal(rds.type_url, TYPE.route);
    const rc = decodeResource(TYPE.route, rds.resources[0].value) as any;
    const action = rc.virtual_hosts[0].routes.at(-1).route;
    if (action.cluster) return { [action.cluster]: 100 };
    return Object.fromEntries(action.weighted_clusters.clusters.map((w: any) => [w.name, w.weight.value]));
  } finally {
    c.close();
  }
}

describe('rollouts survive a restart and a leader failover (child processes, PostgreSQL, etcd, grpc-js-xds)', () => {
  let etcd: TestEtcd;
  let db: TestDatabase;
  let v1: EchoBackend, v2: EchoBackend;
  let survivor: TestApp | undefined;
  let client: grpc.Client | undefined;
  const children: ChildProcess[] = [];
  const retention = trackPriorityRetentionTimers();

  const planeEnv = () => ({
    DATABASE_URL: db.url,
    ETCD_ENDPOINTS: etcd.endpoint,
    LEADER_TTL_SECONDS: String(TTL_S),
    ROLLOUT_TICK_MS: String(TICK_MS),
    XDS_DEBOUNCE_QUIET_MS: '20',
    SHUTDOWN_TIMEOUT_MS: '2000',
  });

  /** Spawns a control plane and waits until it is ready (and, with `lead`, until it leads). */
  async function spawnPlane(id: string, lead: boolean): Promise<Plane> {
    const [port, grpcPort, xdsPort] = [await freePort(), await freePort(), await freePort()];
    const { DATABASE_URL: _d, ...base } = process.env;
    const proc = spawn(process.execPath, [join(PACKAGE_ROOT, 'build/src/main.js')], {
      env: { ...base, ...planeEnv(), HOST: '127.0.0.1', PORT: String(port), GRPC_PORT: String(grpcPort), XDS_PORT: String(xdsPort), REPLICA_ID: id, LOG_LEVEL: 'error' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.push(proc);
    let err = '';
    proc.stderr!.on('data', (d) => (err += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => proc.on('exit', (code, signal) => r({ code, signal })));
    const url = `http://127.0.0.1:${port}`;
    const plane: Plane = { id, proc, base: url, xdsPort, exited, stderr: () => err, http: (m, p, b, h) => request(url, m, p, b, h) };
    const t0 = Date.now();
    for (;;) {
      const r = await plane.http('GET', '/ready').catch(() => undefined);
      if (r?.status === 200 && (!lead || r.body.details.coordination.isLeader)) return plane;
      if (!alive(proc)) throw new Error(`${id} exited: ${err}`);
      if (Date.now() - t0 > 30000) throw new Error(`${id} not ${lead ? 'leading' : 'ready'} after 30 s: ${err}`);
      await sleep(50);
    }
  }

  /** Stops every spawned control plane still running (SIGTERM: it resigns at once), so a failed test leaves none to the next. */
  async function stopChildren(): Promise<void> {
    await Promise.all(
      children.filter(alive).map(
        (c) =>
          new Promise<void>((resolve) => {
            const force = setTimeout(() => c.kill('SIGKILL'), 5000);
            c.once('exit', () => (clearTimeout(force), resolve()));
            c.kill('SIGTERM');
          }),
      ),
    );
  }

  const ok = (r: HttpResult, what: string) => {
    assert.equal(r.status, 200, `${what}: ${r.status} ${r.text}`);
    return r.body;
  };
  const stateOf = async (api: { http: Plane['http'] }, name: string) => ok(await api.http('GET', `/api/v1/rollouts/${name}`), `GET rollout ${name}`).status.rollout;
  const changesSince = async (api: { http: Plane['http'] }, since: number) => ok(await api.http('GET', `/api/v1/changes?since=${since}&limit=1000`), 'changes');
  const share = (t: Record<string, number>) => ((t.v2 ?? 0) / Object.values(t).reduce((a, b) => a + b, 0)) * 100;
  const defaultRule = (route: any) => route.spec.rules.at(-1).backends.map((b: any) => [b.subset, b.weight]);

  before(async () => {
    [etcd, db, v1, v2] = await Promise.all([TestEtcd.start(), createTestDatabase(), startEchoBackend('v1'), startEchoBackend('v2')]);
  });

  after(async () => {
    // Whatever happened, never leave a spawned control plane behind.
    for (const c of children) if (alive(c)) c.kill('SIGKILL');
    client?.close();
    await survivor?.stop().catch(() => undefined);
    await Promise.all([v1, v2].map((b) => b?.stop()));
    await db?.drop();
    await etcd?.stop();
    retention.release();
  });

  it('a control plane restarted mid-rollout resumes it at the same step (no new start, no route write) and a promote through the new process moves it on', async () => {
    const first = await spawnPlane('plane-a', true);
    ok(
      await first.http('POST', '/api/v1/apply', [
        echoService(),
        endpointOf('echo', 'v1', v1.port, { labels: { version: 'v1' } }),
        endpointOf('echo', 'v2', v2.port, { labels: { version: 'v2' } }),
        { kind: 'Route', name: 'echo', spec: { hosts: ['echo'], rules: [{ backends: [{ service: 'echo', subset: 'v1', weight: 100 }] }] } },
        { kind: 'Rollout', name: 'restart', spec: { service: 'echo', stable: 'v1', canary: 'v2', steps: [{ setWeight: 20 }, { pause: {} }, { setWeight: 60 }, { pause: {} }, { setWeight: 100 }] } },
      ]),
      'apply',
    );
    const paused = await eventually(async () => {
      const s = await stateOf(first, 'restart');
      assert.equal(s?.phase, 'Paused', JSON.stringify(s));
      assert.equal(s.step, 1);
      assert.deepEqual(s.weights, { stable: 80, canary: 20 });
      return s;
    });
    const routeBefore = ok(await first.http('GET', '/api/v1/routes/echo'), 'route');
    assert.deepEqual(defaultRule(routeBefore), [['v1', 80], ['v2', 20]]);
    await eventually(async () => assert.deepEqual(await servedWeights(first.xdsPort, 'ads-check-a'), { 'echo/v1': 80, 'echo/v2': 20 }));
    const head = (await changesSince(first, 0)).revision as number;

    const t0 = Date.now();
    first.proc.kill('SIGTERM');
    const exit = await first.exited;
    const stopMs = Date.now() - t0;
    assert.deepEqual(exit, { code: 0, signal: null }, `graceful exit: ${first.stderr()}`);
    const second = await spawnPlane('plane-a', true);
    const restartMs = Date.now() - t0;
    console.log(`# restart: SIGTERM → exit ${stopMs} ms, SIGTERM → new process ready and leading ${restartMs} ms`);

    // The restarted process serves the same split and keeps the state exactly as stored. (If it
    // started the rollout over, its first tick would reset the state, or, coming after the promote,
    // would mark the promote as handled by the old rollout: the checks after the promote catch both.)
    await eventually(async () => assert.deepEqual(await servedWeights(second.xdsPort, 'ads-check-b'), { 'echo/v1': 80, 'echo/v2': 20 }));
    assert.deepEqual(await stateOf(second, 'restart'), paused, 'the stored state is untouched by the restart');
    const routeAfter = ok(await second.http('GET', '/api/v1/routes/echo'), 'route');
    assert.equal(routeAfter.version, routeBefore.version, 'the route was not rewritten');
    assert.deepEqual(routeAfter.spec, routeBefore.spec);

    ok(await second.http('POST', '/api/v1/rollouts/restart/promote', undefined, { 'x-switchyard-actor': 'alice' }), 'promote');
    const moved = await eventually(async () => {
      const s = await stateOf(second, 'restart');
      assert.equal(s.phase, 'Paused', JSON.stringify(s));
      assert.equal(s.step, 3);
      assert.deepEqual(s.weights, { stable: 40, canary: 60 });
      return s;
    });
    // The same rollout, continued: same start, the old history as a prefix, one Pending ever.
    assert.equal(moved.startedAt, paused.startedAt);
    assert.deepEqual(moved.history.slice(0, paused.history.length), paused.history);
    assert.deepEqual(
      moved.history.slice(paused.history.length).map((h: any) => [h.from, h.to, h.step]),
      [['Paused', 'Progressing', 2], ['Progressing', 'Paused', 3]],
    );
    assert.equal(moved.history.filter((h: any) => h.to === 'Pending').length, 1, 'the rollout never started over');
    assert.deepEqual(defaultRule(ok(await second.http('GET', '/api/v1/routes/echo'), 'route')), [['v1', 40], ['v2', 60]]);
    await eventually(async () => assert.deepEqual(await servedWeights(second.xdsPort, 'ads-check-c'), { 'echo/v1': 40, 'echo/v2': 60 }));

    // The change log since just before the restart: the promote by alice, then one route write by the rollout.
    const log = (await changesSince(second, head)).changes.map((c: any) => [c.kind, c.name, c.actor]);
    assert.deepEqual(log, [['Rollout', 'restart', 'alice'], ['Route', 'echo', 'rollout/restart']]);

    // Clean up: abort (all traffic back to v1), then remove the rollout; stop the process.
    ok(await second.http('POST', '/api/v1/rollouts/restart/abort'), 'abort');
    await eventually(async () => assert.equal((await stateOf(second, 'restart')).phase, 'Aborted'));
    assert.deepEqual(defaultRule(ok(await second.http('GET', '/api/v1/routes/echo'), 'route')).filter(([, w]: [string, number]) => w > 0), [['v1', 100]]);
    ok(await second.http('DELETE', '/api/v1/rollouts/restart'), 'delete rollout');
    second.proc.kill('SIGTERM');
    assert.deepEqual(await second.exited, { code: 0, signal: null }, second.stderr());
  });

  it('a leader killed during a timed pause: the in-process replica takes over within the lease TTL and continues from the same step, no steady call fails, the split is right', async () => {
    await stopChildren(); // none, unless the restart test failed half-way
    const leader = await spawnPlane('plane-b', true);
    survivor = await startTestApp('postgres', { ...planeEnv(), REPLICA_ID: 'survivor' });
    const s = survivor;
    await eventually(async () => {
      const c = (await s.http('GET', '/ready')).body.details.coordination;
      assert.equal(c.leader, 'plane-b');
      assert.equal(c.isLeader, false);
    });

    // The client follows the in-process replica, which outlives the leader.
    useXds(s.xdsPort, 'rollout-ha-client');
    client = xdsClient('echo');
    const c = client;
    await eventually(async () => assert.deepEqual(await tally(c, 20), { v1: 20 }));

    const load = steady(c);
    let calls: Outcome[] | undefined;
    try {
      const head = (await changesSince(s, 0)).revision as number;
      ok(
        await s.http('POST', '/api/v1/apply', [
          { kind: 'Rollout', name: 'ha', spec: { service: 'echo', stable: 'v1', canary: 'v2', steps: [{ setWeight: 30 }, { pause: { seconds: 4 } }, { setWeight: 70 }, { pause: {} }] } },
        ]),
        'apply rollout',
      );
      const pausing = await eventually(async () => {
        const st = await stateOf(s, 'ha');
        assert.equal(st?.phase, 'Progressing', JSON.stringify(st));
        assert.equal(st.step, 1);
        assert.deepEqual(st.weights, { stable: 70, canary: 30 });
        return st;
      });
      const pauseEnds = Date.parse(pausing.stepStartedAt) + 4000;

      // Kill the leader 1.5 s before the pause ends: it cannot have moved on, and its lease
      // (TTL 2 s) outlives the pause, so only the new leader can take the next step.
      const killAt = pauseEnds - 1500;
      assert.ok(Date.now() < killAt - 200, `reached the pause too late to kill inside it (${killAt - Date.now()} ms before the planned kill)`);
      await sleep(killAt - Date.now());
      const tKill = Date.now();
      leader.proc.kill('SIGKILL');
      await leader.exited;
      assert.deepEqual(
        (({ phase, step, weights }) => ({ phase, step, weights }))(await stateOf(s, 'ha')),
        { phase: 'Progressing', step: 1, weights: { stable: 70, canary: 30 } },
        'still in the pause when the leader died',
      );

      let tLeader: number;
      for (;;) {
        const r = await s.http('GET', '/ready');
        if (r.body.details.coordination.isLeader) {
          tLeader = Date.now();
          break;
        }
        if (Date.now() - tKill > (TTL_S + 5) * 1000) assert.fail('the in-process replica never took over');
        await sleep(25);
      }
      const takeover = tLeader - tKill;

      const done = await eventually(async () => {
        const st = await stateOf(s, 'ha');
        assert.equal(st.phase, 'Paused', JSON.stringify(st));
        assert.equal(st.step, 3);
        assert.deepEqual(st.weights, { stable: 30, canary: 70 });
        return st;
      });
      // The same rollout, continued from step 1.
      assert.equal(done.startedAt, pausing.startedAt);
      assert.deepEqual(done.history.slice(0, pausing.history.length), pausing.history);
      assert.deepEqual(done.history.map((h: any) => [h.from, h.to, h.step]), [[null, 'Pending', 0], ['Pending', 'Progressing', 0], ['Progressing', 'Paused', 3]]);
      const writes = (await changesSince(s, head)).changes.filter((x: any) => x.kind === 'Route');
      assert.deepEqual(writes.map((x: any) => [x.name, x.actor]), [['echo', 'rollout/ha'], ['echo', 'rollout/ha']], 'two route writes: 30 %, then 70 %');

      // When the controller took the step (then wrote the route): the in-process replica's clock, which is this process's.
      const decided = Date.parse(done.routedAt);
      const resumed = decided - tKill;
      console.log(
        `# failover: SIGKILL → survivor leads ${takeover} ms (seen by polling /ready); SIGKILL → step to 70 % taken ${resumed} ms (${decided - pauseEnds} ms after the pause ended, ${decided - tLeader} ms after the takeover was seen; lease TTL ${TTL_S * 1000} ms, tick ${TICK_MS} ms)`,
      );
      assert.ok(takeover <= (TTL_S + 1) * 1000, `takeover ${takeover} ms`);
      assert.ok(decided >= pauseEnds, 'the pause was not cut short');
      assert.ok(decided > tKill, 'the step to 70 % was taken after the old leader died');
      // TTL + one tick + 1 s slack: etcd expires leases on its own 0.5 s checks, then come the watch
      // event, the campaign, reading the stored state and one registry write, on a loaded machine.
      // Restarting the pause (or the rollout) would take 4 s more than the TTL.
      assert.ok(resumed <= TTL_S * 1000 + TICK_MS + 1000, `resumed ${resumed} ms after the kill`);

      await eventually(async () => assert.ok(Math.abs(share(await tally(c, 200)) - 70) <= 10));
      const t = await tally(c, 2000);
      console.log(`# split after failover at 70 %: ${share(t).toFixed(1)} % v2 over 2000 calls (${JSON.stringify(t)})`);
      assert.equal((t.v1 ?? 0) + (t.v2 ?? 0), 2000, JSON.stringify(t));
      assertShare(t.v2 ?? 0, 2000, 70, 'v2 after failover');

      // The new leader finishes it: promote ends the pause, every step is done, v2 becomes stable.
      ok(await s.http('POST', '/api/v1/rollouts/ha/promote'), 'promote');
      await eventually(async () => assert.equal((await stateOf(s, 'ha')).phase, 'Succeeded'));
      await eventually(async () => assert.deepEqual(await tally(c, 200), { v2: 200 }));
    } finally {
      calls = await load.stop();
    }
    console.log(`# steady calls during the failover test: ${calls.length}`);
    assert.ok(calls.length > 200, `steady traffic (${calls.length} calls)`);
    assert.deepEqual(calls.filter((x) => x.code), [], 'no steady call failed');
  });

  it('the surviving replica saw no NACK', async () => {
    assert.ok(survivor, 'the in-process replica ran');
    assert.equal(await nackCount(survivor), 0);
  });
});
