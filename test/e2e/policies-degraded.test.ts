import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type * as grpc from '@grpc/grpc-js';
import { startTestApp, type TestApp } from '../support/app.js';
import { attempt, type EchoBackend, type Outcome, startEchoBackend, tally } from '../support/echo-backends.js';
import { echoRoute, echoService } from '../support/fixtures.js';
import { trackPriorityRetentionTimers } from '../support/priority-timers.js';
import { assertShare } from '../support/shares.js';
import { apply, endpointOf, eventually, nackCount, useXds, xdsClient } from '../support/xds-client.js';

/** Calls in a loop until stopped, keeping every outcome: the steady traffic a drain must not disturb. */
function steady(client: grpc.Client, concurrency = 4): { stop(): Promise<Outcome[]> } {
  const out: Outcome[] = [];
  let running = true;
  const loops = Array.from({ length: concurrency }, async () => {
    while (running) out.push(await attempt(client));
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return out;
    },
  };
}

const failures = (xs: Outcome[]) => xs.filter((o) => o.code);

describe('a subset with no usable endpoints never fails its share of calls (real grpc-js-xds client)', () => {
  let app: TestApp;
  let v1a: EchoBackend, v1b: EchoBackend, v2: EchoBackend;
  let client: grpc.Client;

  // A cluster the client stops using leaves a grpc-js-xds priority child on a 15-minute timer: let the process exit after.
  const retention = trackPriorityRetentionTimers();

  before(async () => {
    app = await startTestApp('pglite', { XDS_DEBOUNCE_QUIET_MS: '20' });
    [v1a, v1b, v2] = await Promise.all([startEchoBackend('v1-a'), startEchoBackend('v1-b'), startEchoBackend('v2')]);
    await apply(app, [
      echoService(),
      endpointOf('echo', 'v1-a', v1a.port, { labels: { version: 'v1' } }),
      endpointOf('echo', 'v1-b', v1b.port, { labels: { version: 'v1' } }),
      endpointOf('echo', 'v2', v2.port, { labels: { version: 'v2' } }),
      echoRoute(90, 10),
    ]);
    useXds(app.xdsPort, 'degraded-client');
    client = xdsClient('echo');
    await eventually(async () => assert.ok(((await tally(client, 200))['v2'] ?? 0) > 0));
  });

  after(async () => {
    client?.close();
    await app?.stop();
    await Promise.all([v1a, v1b, v2].map((b) => b?.stop()));
    retention.release();
  });

  const degraded = async () => {
    const route = (await app.http('GET', '/api/v1/routes/echo')).body.status.translation?.warnings ?? [];
    const service = (await app.http('GET', '/api/v1/services/echo')).body.status.translation?.warnings ?? [];
    return { route: route.filter((w: any) => w.reason === 'Degraded'), service: service.filter((w: any) => w.reason === 'Degraded') };
  };

  it('draining the only v2 instance under a 90/10 split fails no call; v2 gets its share back when it returns', async () => {
    const load = steady(client);
    try {
    assert.equal((await app.http('PATCH', '/api/v1/services/echo/endpoints/v2', { spec: { health: 'draining' } })).status, 200);
    await eventually(async () => {
      const d = await degraded();
      const split = d.route.find((w: any) => w.field === 'spec.rules[1].backends[1]');
      assert.ok(split, JSON.stringify(d));
      assert.match(split.message, /subset v2 of Service echo has no usable endpoints: its weight \(10 of 100\) goes to the other backends/);
      // The header rule sends only to v2: nowhere else to go, so it stays, and says so.
      assert.ok(d.route.some((w: any) => w.field === 'spec.rules[0].backends'), JSON.stringify(d));
      assert.match(d.service[0].message, /subset v2 has no usable endpoints/);
    });
    // The client follows: v2 is out of the weighted clusters, so nothing is sent to it.
    await eventually(async () => assert.equal((await tally(client, 300))['v2'], undefined));
    assert.match((await app.http('GET', '/metrics')).text, /switchyard_translation_conditions\{kind="Route",reason="Degraded"\} 2/);
    const t = await tally(client, 500);
    assert.deepEqual(Object.keys(t).sort(), ['v1-a', 'v1-b'], JSON.stringify(t));

    assert.equal((await app.http('PATCH', '/api/v1/services/echo/endpoints/v2', { spec: { health: 'healthy' } })).status, 200);
    await eventually(async () => assert.ok(((await tally(client, 300))['v2'] ?? 0) > 10));
    await eventually(async () => assert.deepEqual(await degraded(), { route: [], service: [] }));
    } finally {
      const calls = await load.stop();
      assert.ok(calls.length > 100, `steady traffic ran throughout (${calls.length} calls)`);
      assert.deepEqual(failures(calls), [], 'no call failed during the drain or the return');
    }
  });

  it('losing the last v2 instance (deleted) fails no call either, and the 90/10 split comes back with a new one', async () => {
    const load = steady(client);
    try {
    assert.equal((await app.http('DELETE', '/api/v1/services/echo/endpoints/v2')).status, 200);
    await eventually(async () => assert.equal((await tally(client, 300))['v2'], undefined));
    await new Promise((r) => setTimeout(r, 300)); // steady calls keep running after the change settles
    assert.equal((await app.http('POST', '/api/v1/services/echo/endpoints', endpointOf('echo', 'v2-new', v2.port, { labels: { version: 'v2' } }))).status, 201);
    await eventually(async () => assert.ok(((await tally(client, 300))['v2'] ?? 0) > 10));
    } finally {
      assert.deepEqual(failures(await load.stop()), [], 'no call failed');
    }
    const t = await tally(client, 2000);
    assertShare(t['v2'] ?? 0, 2000, 10, 'v2 has its 10 % again');
  });

  it('with no usable backend at all, the rule stays as it is and the Route says so', async () => {
    const header = { 'x-canary': 'true' };
    assert.equal((await tally(client, 50, { metadata: header }))['v2'], 50);
    assert.equal((await app.http('PATCH', '/api/v1/services/echo/endpoints/v2-new', { spec: { health: 'draining' } })).status, 200);
    await eventually(async () => {
      const d = await degraded();
      assert.ok(d.route.some((w: any) => w.field === 'spec.rules[0].backends' && /no backend of rule 0 has usable endpoints/.test(w.message)), JSON.stringify(d));
    });
    await app.http('PATCH', '/api/v1/services/echo/endpoints/v2-new', { spec: { health: 'healthy' } });
  });

  it('sent no config the client refused', async () => {
    assert.equal(await nackCount(app), 0);
  });
});
