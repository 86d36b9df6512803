import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type * as grpc from '@grpc/grpc-js';
import { startTestApp, type TestApp } from '../support/app.js';
import { attempt, type EchoBackend, type Outcome, startEchoBackend, tally } from '../support/echo-backends.js';
import { echoService } from '../support/fixtures.js';
import { trackPriorityRetentionTimers } from '../support/priority-timers.js';
import { assertShare } from '../support/shares.js';
import { apply, endpointOf, eventually, nackCount, useXds, xdsClient } from '../support/xds-client.js';

/** Steady calls until stopped, keeping every outcome (a rollout must fail none of them). */
function steady(client: grpc.Client, concurrency = 3): { stop(): Promise<Outcome[]> } {
  const out: Outcome[] = [];
  let running = true;
  const loops = Array.from({ length: concurrency }, async () => {
    while (running) {
      out.push(await attempt(client));
      await new Promise((r) => setTimeout(r, 2));
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

const route = { kind: 'Route', name: 'echo', spec: { hosts: ['echo'], rules: [{ backends: [{ service: 'echo', subset: 'v1', weight: 100 }] }] } };

describe('canary rollouts with real grpc-js-xds traffic', () => {
  let app: TestApp;
  let v1: EchoBackend, v2: EchoBackend;
  let client: grpc.Client;
  const retention = trackPriorityRetentionTimers();

  before(async () => {
    app = await startTestApp('pglite', { XDS_DEBOUNCE_QUIET_MS: '20', ROLLOUT_TICK_MS: '100' });
    [v1, v2] = await Promise.all([startEchoBackend('v1'), startEchoBackend('v2')]);
    await apply(app, [echoService(), endpointOf('echo', 'v1', v1.port, { labels: { version: 'v1' } }), endpointOf('echo', 'v2', v2.port, { labels: { version: 'v2' } }), route]);
    useXds(app.xdsPort, 'rollout-client');
    client = xdsClient('echo');
    await eventually(async () => assert.deepEqual(await tally(client, 20), { v1: 20 }));
  });

  after(async () => {
    client?.close();
    await app?.stop();
    await Promise.all([v1, v2].map((b) => b?.stop()));
    retention.release();
  });

  const rollout = async (name: string) => (await app.http('GET', `/api/v1/rollouts/${name}`)).body;
  const phase = async (name: string) => (await rollout(name)).status.rollout?.phase;
  const share = (t: Record<string, number>) => ((t.v2 ?? 0) / Object.values(t).reduce((a, b) => a + b, 0)) * 100;

  it('a healthy canary walks every step to 100 % and becomes stable, with no failed call and each split within the binomial band', async () => {
    const load = steady(client);
    try {
      await apply(app, [
        {
          kind: 'Rollout',
          name: 'echo-v2',
          spec: {
            service: 'echo',
            stable: 'v1',
            canary: 'v2',
            steps: [{ setHeaderRoute: { name: 'x-canary', exact: 'true' } }, { setWeight: 10 }, { pause: {} }, { setWeight: 50 }, { pause: {} }, { setWeight: 100 }],
          },
        },
      ]);
      // Header step: only calls carrying the header reach v2.
      await eventually(async () => assert.deepEqual(await tally(client, 50, { metadata: { 'x-canary': 'true' } }), { v2: 50 }));
      for (const [weight, nth] of [[10, 0], [50, 1]] as const) {
        await eventually(async () => {
          const s = (await rollout('echo-v2')).status.rollout;
          assert.equal(s?.phase, 'Paused', JSON.stringify(s));
          assert.equal(s.weights.canary, weight);
        });
        await eventually(async () => assert.ok(Math.abs(share(await tally(client, 200)) - weight) <= 10));
        const t = await tally(client, 2000);
        assertShare(t.v2 ?? 0, Object.values(t).reduce((a, b) => a + b, 0), weight, `step ${nth} (${JSON.stringify(t)})`);
        const promote = await app.http('POST', '/api/v1/rollouts/echo-v2/promote', undefined, { 'x-switchyard-actor': 'alice' });
        assert.equal(promote.status, 200, promote.text);
      }
      await eventually(async () => assert.equal(await phase('echo-v2'), 'Succeeded'));
      await eventually(async () => assert.deepEqual(await tally(client, 200), { v2: 200 }));
      const r = (await app.http('GET', '/api/v1/routes/echo')).body;
      assert.deepEqual(r.spec.rules, [{ backends: [{ service: 'echo', subset: 'v2', weight: 100 }] }], 'the canary is the stable subset; the header rule is gone');
      const changes = (await app.http('GET', '/api/v1/changes?since=0&limit=1000')).body.changes;
      assert.ok(changes.some((c: any) => c.kind === 'Route' && c.actor === 'rollout/echo-v2'), 'steps are registry writes by rollout/echo-v2');
      assert.ok(changes.some((c: any) => c.kind === 'Rollout' && c.actor === 'alice'), 'the promote is a change by its caller');
    } finally {
      const calls = await load.stop();
      assert.ok(calls.length > 200, `steady traffic (${calls.length} calls)`);
      assert.deepEqual(calls.filter((c) => c.code), [], 'no call failed during the rollout');
    }
  });

  it('while a rollout owns a route, a manual weight change gets 409; abort returns all traffic to stable within one push', async () => {
    // The next canary: v2 is stable now, v1 plays the canary.
    await apply(app, [{ kind: 'Rollout', name: 'back', spec: { service: 'echo', stable: 'v2', canary: 'v1', steps: [{ setWeight: 30 }, { pause: {} }] } }]);
    await eventually(async () => assert.equal((await rollout('back')).status.rollout?.weights.canary, 30));
    const manual = await app.http('PATCH', '/api/v1/routes/echo', { spec: { rules: [{ backends: [{ service: 'echo', subset: 'v2', weight: 100 }] }] } });
    assert.equal(manual.status, 409, manual.text);
    assert.match(manual.body.message, /managed by Rollout back \(phase Paused\)/);
    assert.equal((await app.http('POST', '/api/v1/rollouts/back/resume-nope')).status, 400);
    assert.equal((await app.http('POST', '/api/v1/rollouts/back/retry')).status, 409, 'retry only applies to a failed or aborted rollout');
    await eventually(async () => assert.ok((await tally(client, 200)).v1! > 30));
    const load = steady(client);
    try {
      assert.equal((await app.http('POST', '/api/v1/rollouts/back/abort')).status, 200);
      await eventually(async () => assert.equal(await phase('back'), 'Aborted'));
      await eventually(async () => assert.deepEqual(await tally(client, 200), { v2: 200 }));
    } finally {
      assert.deepEqual((await load.stop()).filter((c) => c.code), []);
    }
    const history = (await rollout('back')).status.rollout.history.map((h: any) => h.to);
    assert.deepEqual(history.slice(-2), ['RollingBack', 'Aborted']);
    assert.equal((await app.http('PATCH', '/api/v1/routes/echo', { labels: { touched: 'yes' } })).status, 200, 'the route is free again');
  });

  it('exports rollout metrics and sent no config the client refused', async () => {
    const text = (await app.http('GET', '/metrics')).text;
    assert.match(text, /switchyard_rollout_phase\{rollout="echo-v2",phase="Succeeded"\} 1/);
    assert.match(text, /switchyard_rollout_weight\{rollout="back",subset="v1"\} 0/);
    assert.equal(await nackCount(app), 0);
  });
});
