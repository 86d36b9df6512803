import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import * as xds from '@grpc/grpc-js-xds';
import { startTestApp, type TestApp } from '../support/app.js';
import { EchoClient, type EchoBackend, say, startEchoBackend } from '../support/echo-backends.js';
import { echoRoute, echoService } from '../support/fixtures.js';
import { assertShare } from '../support/shares.js';
import { eventually } from '../support/xds-client.js';

const endpoint = (name: string, b: EchoBackend, version: string) => ({
  kind: 'Endpoint',
  name,
  service: 'echo',
  spec: { address: '127.0.0.1', port: b.port, weight: 1, locality: { region: 'r1', zone: 'z1' }, labels: { version } },
});

async function tally(client: grpc.Client, n: number, metadata?: Record<string, string>): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i += 50) {
    const batch = await Promise.all(Array.from({ length: Math.min(50, n - i) }, () => say(client, 'x', metadata)));
    for (const s of batch) out[s] = (out[s] ?? 0) + 1;
  }
  return out;
}

describe('end to end with a real grpc-js-xds client and real gRPC backends', () => {
  let app: TestApp;
  let v1a: EchoBackend, v1b: EchoBackend, v2: EchoBackend;
  let client: grpc.Client;

  before(async () => {
    app = await startTestApp('pglite', { XDS_DEBOUNCE_QUIET_MS: '20' });
    [v1a, v1b, v2] = await Promise.all([startEchoBackend('v1-a'), startEchoBackend('v1-b'), startEchoBackend('v2')]);
    const apply = await app.http('POST', '/api/v1/apply', [echoService(), endpoint('v1-a', v1a, 'v1'), endpoint('v2', v2, 'v2'), echoRoute(90, 10)]);
    assert.equal(apply.status, 200, apply.text);
    process.env.GRPC_XDS_BOOTSTRAP_CONFIG = JSON.stringify({
      xds_servers: [{ server_uri: `127.0.0.1:${app.xdsPort}`, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
      node: { id: 'e2e-client', locality: {} },
    });
    xds.register();
    client = new EchoClient('xds:///echo', grpc.credentials.createInsecure());
    await eventually(async () => void (await say(client)));
  });

  after(async () => {
    client?.close();
    await app?.stop();
    await Promise.all([v1a, v1b, v2].map((b) => b?.stop()));
  });

  const proxies = async () => (await app.http('GET', '/api/v1/proxies')).body.items;

  it('splits 90/10 by route weight (2000 calls, within the binomial band)', async () => {
    const t = await tally(client, 2000);
    assertShare(t['v2'] ?? 0, 2000, 10, `v2 (${JSON.stringify(t)})`);
    assert.equal((t['v1-a'] ?? 0) + (t['v2'] ?? 0), 2000);
  });

  it('sends every x-canary: true call to v2', async () => {
    const t = await tally(client, 200, { 'x-canary': 'true' });
    assert.deepEqual(t, { v2: 200 });
  });

  it('changing the weights through the REST API changes the split without a restart', async () => {
    assert.equal((await app.http('PUT', '/api/v1/routes/echo', echoRoute(50, 50))).status, 200);
    await eventually(async () => {
      const t = await tally(client, 400);
      assert.ok((t['v2'] ?? 0) > 120, JSON.stringify(t));
    });
    const t = await tally(client, 2000);
    assertShare(t['v2'] ?? 0, 2000, 50, `v2 (${JSON.stringify(t)})`);
  });

  it('brings a new endpoint into rotation, and takes it out when unhealthy or deleted', async () => {
    await app.http('PUT', '/api/v1/routes/echo', echoRoute(100, 0));
    assert.equal((await app.http('POST', '/api/v1/services/echo/endpoints', endpoint('v1-b', v1b, 'v1'))).status, 201);
    await eventually(async () => assert.ok(((await tally(client, 200))['v1-b'] ?? 0) > 40));

    const patch = await app.http('PATCH', '/api/v1/services/echo/endpoints/v1-b', { spec: { health: 'unhealthy' } });
    assert.equal(patch.status, 200);
    await eventually(async () => assert.equal((await tally(client, 200))['v1-b'], undefined));

    await app.http('PATCH', '/api/v1/services/echo/endpoints/v1-b', { spec: { health: 'healthy' } });
    await eventually(async () => assert.ok(((await tally(client, 200))['v1-b'] ?? 0) > 40));
    assert.equal((await app.http('DELETE', '/api/v1/services/echo/endpoints/v1-b')).status, 200);
    await eventually(async () => assert.deepEqual(await tally(client, 200), { 'v1-a': 200 }));
  });

  it('rejects an invalid change at the API and pushes nothing', async () => {
    const before = await proxies();
    const bad = echoRoute(90, 10);
    (bad.spec.rules[1].backends[1] as any).weight = -5;
    assert.equal((await app.http('PUT', '/api/v1/routes/echo', bad)).status, 400);
    const ghost = echoRoute(90, 10);
    ghost.spec.rules[1].backends[1].subset = 'v9';
    assert.equal((await app.http('PUT', '/api/v1/routes/echo', ghost)).status, 400);
    await new Promise((r) => setTimeout(r, 300));
    const afterwards = await proxies();
    assert.deepEqual(afterwards.map((p: any) => p.types.RDS.lastSentVersion), before.map((p: any) => p.types.RDS.lastSentVersion));
  });

  it('shows the client in /api/v1/proxies with every type ACKed, its config, and no NACK', async () => {
    const items = await proxies();
    const me = items.find((p: any) => p.id === 'e2e-client');
    assert.ok(me, JSON.stringify(items));
    assert.equal(me.clientKind, 'proxyless');
    assert.match(me.userAgent, /gRPC Node/);
    for (const t of ['LDS', 'RDS', 'CDS', 'EDS']) {
      assert.ok(me.types[t].lastSentVersion, `${t} sent`);
      assert.equal(me.types[t].lastAckedVersion, me.types[t].lastSentVersion, `${t} acked`);
      assert.equal(me.types[t].lastNack, undefined, `${t} never NACKed`);
    }
    const dump = (await app.http('GET', '/api/v1/proxies/e2e-client/config')).body[0].configs;
    assert.deepEqual(dump.LDS.resources.map((r: any) => r.name), ['echo']);
    assert.deepEqual(dump.CDS.resources.map((r: any) => r.name).sort(), ['echo/v1', 'echo/v2']);
    const metrics = (await app.http('GET', '/metrics')).text;
    assert.doesNotMatch(metrics, /switchyard_xds_nacks_total\{[^}]*\} [1-9]/, 'no NACK anywhere in this suite');
    assert.match(metrics, /switchyard_xds_connected_proxies\{group="proxyless",kind="proxyless"\} 1/);
    assert.match(metrics, /switchyard_xds_convergence_seconds_count\{type="EDS"\} [1-9]/);
  });
});
