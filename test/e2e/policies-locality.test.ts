import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type * as grpc from '@grpc/grpc-js';
import { startTestApp, type TestApp } from '../support/app.js';
import { attempt, type EchoBackend, startEchoBackend, tally } from '../support/echo-backends.js';
import { trackPriorityRetentionTimers } from '../support/priority-timers.js';
import { apply, endpointOf, eventually, nackCount, useXds, xdsClient } from '../support/xds-client.js';

const NODE_ID = 'locality-client';
const Z1 = { region: 'r1', zone: 'z1' };
const Z2 = { region: 'r1', zone: 'z2' };
// Failover is quick here (grpc-js drops a locality with no HEALTHY/UNKNOWN endpoint, so z2 becomes the top priority),
// but a priority that cannot connect waits out a 10 s failover timer: be generous while converging, strict after.
const CONVERGE_MS = 20000;

describe('loadBalancer localityFailover with a real grpc-js-xds client in r1/z1', () => {
  let app: TestApp;
  let backends: EchoBackend[] = [];
  let z1a: EchoBackend, z1b: EchoBackend, z2a: EchoBackend;
  let client: grpc.Client;
  // Failover leaves grpc-js-xds priority children on 15-minute timers that would hold this process after the tests.
  const retention = trackPriorityRetentionTimers();

  const setHealth = async (name: string, health: string) => {
    const r = await app.http('PATCH', `/api/v1/services/echo/endpoints/${name}`, { spec: { health } }, { 'content-type': 'application/merge-patch+json' });
    assert.equal(r.status, 200, r.text);
  };

  before(async () => {
    app = await startTestApp('pglite', { XDS_DEBOUNCE_QUIET_MS: '20' });
    backends = [z1a, z1b, z2a] = await Promise.all(['z1-a', 'z1-b', 'z2-a'].map((n) => startEchoBackend(n)));
    await apply(app, [
      { kind: 'Policy', name: 'failover', spec: { type: 'loadBalancer', loadBalancer: { algorithm: 'roundRobin', localityFailover: true } } },
      { kind: 'Service', name: 'echo', spec: { protocol: 'grpc', port: 50051, policies: ['failover'] } },
      endpointOf('echo', 'z1-a', z1a.port, { locality: Z1 }),
      endpointOf('echo', 'z1-b', z1b.port, { locality: Z1 }),
      endpointOf('echo', 'z2-a', z2a.port, { locality: Z2 }),
      { kind: 'Route', name: 'echo', spec: { hosts: ['echo'], rules: [{ backends: [{ service: 'echo', weight: 1 }] }] } },
    ]);
    // The bootstrap is process-wide: every client of this file is in r1/z1.
    useXds(app.xdsPort, NODE_ID, Z1);
    client = xdsClient('echo');
    await eventually(async () => assert.ok((await attempt(client)).server), CONVERGE_MS);
  });

  after(async () => {
    client?.close();
    console.log(`# released ${retention.release()} grpc-js-xds priority retention timer(s)`);
    await Promise.all(backends.map((b) => b.stop()));
    await app?.stop();
  });

  it('sends every call to the z1 endpoints while they are healthy', async () => {
    const t = await tally(client, 600);
    assert.deepEqual(Object.keys(t).sort(), ['z1-a', 'z1-b'], JSON.stringify(t));
    assert.equal(t['z1-a'] + t['z1-b'], 600);
    // Round robin within the zone.
    assert.ok(t['z1-a'] >= 200 && t['z1-b'] >= 200, JSON.stringify(t));
    // Without failover priorities, a third of the calls would have gone to z2 from the start.
    assert.equal(z2a.stats().calls, 0, 'the z2 backend never got a call');
  });

  it('the proxy config has EDS priorities from the client locality: z2 is priority 1', async () => {
    const me = (await app.http('GET', '/api/v1/proxies')).body.items.find((p: any) => p.id === NODE_ID);
    assert.ok(me, 'the client is listed in /api/v1/proxies');
    assert.equal(me.clientKind, 'proxyless');
    for (const t of ['LDS', 'RDS', 'CDS', 'EDS']) {
      assert.equal(me.types[t].lastAckedVersion, me.types[t].lastSentVersion, `${t} acked`);
      assert.equal(me.types[t].lastNack, undefined, `${t} never NACKed`);
    }
    const [dump] = (await app.http('GET', `/api/v1/proxies/${NODE_ID}/config`)).body;
    assert.equal(dump.group, 'proxyless@r1/z1/');
    const cla = dump.configs.EDS.resources.find((r: any) => r.cluster_name === 'echo');
    assert.ok(cla, JSON.stringify(dump.configs.EDS));
    const byZone = Object.fromEntries(cla.endpoints.map((l: any) => [l.locality.zone, l]));
    assert.equal(byZone.z2.priority, 1, JSON.stringify(cla));
    assert.ok(!byZone.z1.priority, `z1 is priority 0: ${JSON.stringify(cla)}`);
  });

  it('fails over to z2 when both z1 endpoints are unhealthy, and back when they recover', async () => {
    await setHealth('z1-a', 'unhealthy');
    await setHealth('z1-b', 'unhealthy');
    const t0 = Date.now();
    await eventually(async () => {
      const t = await tally(client, 50);
      assert.ok(t['z2-a'] > 0, JSON.stringify(t));
    }, CONVERGE_MS);
    const out = await eventually(async () => {
      const t = await tally(client, 50);
      assert.deepEqual(t, { 'z2-a': 50 });
      return Date.now() - t0;
    }, CONVERGE_MS);
    console.log(`# failover to z2 converged after ${out} ms`);
    // Converged: every call of a batch goes to z2, none fails.
    const z1Before = z1a.stats().calls + z1b.stats().calls;
    assert.deepEqual(await tally(client, 600), { 'z2-a': 600 });
    assert.equal(z1a.stats().calls + z1b.stats().calls, z1Before, 'the unhealthy z1 backends got no call');

    await setHealth('z1-a', 'healthy');
    await setHealth('z1-b', 'healthy');
    const t1 = Date.now();
    const back = await eventually(async () => {
      const t = await tally(client, 50);
      assert.deepEqual(Object.keys(t).sort(), ['z1-a', 'z1-b'], JSON.stringify(t));
      return Date.now() - t1;
    }, CONVERGE_MS);
    console.log(`# back to z1 after ${back} ms`);
    const z2Before = z2a.stats().calls;
    const t = await tally(client, 600);
    assert.deepEqual(Object.keys(t).sort(), ['z1-a', 'z1-b'], JSON.stringify(t));
    assert.equal(t['z1-a'] + t['z1-b'], 600);
    assert.equal(z2a.stats().calls, z2Before, 'z2 got no call once z1 was back');
  });

  it('no NACK', async () => {
    assert.equal(await nackCount(app), 0);
  });
});
