import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeResource } from '../../src/xds/cache/envoy-protos.js';
import { TYPE } from '../../src/translate/envoy-types.js';
import { AdsTestClient, envoyNode } from '../support/ads-client.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { echoRoute, echoService, edgeListener } from '../support/fixtures.js';

const N = 400;

describe('slow streams and per-type services', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp('pglite', { XDS_DEBOUNCE_QUIET_MS: '5', XDS_DEBOUNCE_MAX_MS: '20' });
    const eps = Array.from({ length: N }, (_, i) => ({
      kind: 'Endpoint',
      name: `ep-${i}`,
      service: 'echo',
      spec: { address: `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}`, port: 8080, labels: { version: 'v1' }, locality: { region: 'r', zone: `z${i % 7}` } },
    }));
    const r = await app.http('POST', '/api/v1/apply', [echoService(), ...eps, echoRoute(100, 0), edgeListener()]);
    assert.equal(r.status, 200, r.text);
  });
  after(async () => {
    await app?.stop();
  });

  it('a stream that stops reading is not queued every version: it gets the latest state when it resumes', async () => {
    const c = new AdsTestClient(app.xdsPort);
    c.send({ node: envoyNode('slow'), type_url: TYPE.endpoint, resource_names: ['echo/v1'] });
    const first = await c.next();
    c.send({ type_url: TYPE.endpoint, version_info: first.version_info, response_nonce: first.nonce, resource_names: ['echo/v1'] });
    c.pause();
    const changes = 40;
    for (let i = 0; i < changes; i++) {
      const res = await app.http('PATCH', `/api/v1/services/echo/endpoints/ep-${i}`, { spec: { health: 'unhealthy' } });
      assert.equal(res.status, 200);
      await new Promise((r) => setTimeout(r, 30)); // let each change become its own snapshot
    }
    c.resume();
    const got: any[] = [];
    for (;;) {
      const r = await c.next(1500).catch(() => undefined);
      if (!r) break;
      got.push(r);
      c.send({ type_url: TYPE.endpoint, version_info: r.version_info, response_nonce: r.nonce, resource_names: ['echo/v1'] });
    }
    assert.ok(got.length > 0, 'caught up');
    assert.ok(got.length < changes / 2, `${got.length} responses for ${changes} changes: intermediate states were skipped`);
    const last = decodeResource(TYPE.endpoint, got.at(-1).resources[0].value) as any;
    const unhealthy = last.endpoints.flatMap((l: any) => l.lb_endpoints).filter((e: any) => e.health_status === 'UNHEALTHY').length;
    assert.equal(unhealthy, changes, 'the last response holds the latest state');
    c.close();
  });

  it('serves the per-type CDS service as well as ADS', async () => {
    const c = new AdsTestClient(app.xdsPort, false, '/envoy.service.cluster.v3.ClusterDiscoveryService/StreamClusters');
    c.send({ node: envoyNode('cds-only') });
    const r = await c.next();
    assert.equal(r.type_url, TYPE.cluster);
    assert.deepEqual(r.resources.map((a) => (decodeResource(a.type_url, a.value) as any).name), ['echo/v1', 'echo/v2']);
    c.close();
  });
});

describe('debounced rebuilds', () => {
  let app: TestApp;
  before(async () => {
    // A window far longer than one PATCH takes on a loaded machine: the writes after the first always fall inside it.
    app = await startTestApp('pglite', { XDS_DEBOUNCE_QUIET_MS: '1000', XDS_DEBOUNCE_MAX_MS: '5000' });
    assert.equal((await app.http('POST', '/api/v1/apply', [echoService(), echoRoute(), edgeListener()])).status, 200);
    await new Promise((r) => setTimeout(r, 1500)); // let that write's own rebuild pass
  });
  after(async () => {
    await app?.stop();
  });

  it('a burst of writes gives at most two pushes: the first write at once (leading edge), then the rest folded', async () => {
    const c = new AdsTestClient(app.xdsPort);
    c.send({ node: envoyNode('burst'), type_url: TYPE.listener });
    const first = await c.next();
    c.send({ type_url: TYPE.listener, version_info: first.version_info, response_nonce: first.nonce });
    // The seeding write's own rebuild may still land (a loaded machine): take it, until the stream is quiet.
    for (let r = await c.next(1500).catch(() => undefined); r; r = await c.next(1500).catch(() => undefined)) c.send({ type_url: TYPE.listener, version_info: r.version_info, response_nonce: r.nonce });
    for (let i = 0; i < 10; i++) assert.equal((await app.http('PATCH', '/api/v1/listeners/edge', { spec: { port: 11000 + i } })).status, 200);
    const ports: number[] = [];
    while (ports.at(-1) !== 11009) {
      const pushed = await c.next(5000);
      c.send({ type_url: TYPE.listener, version_info: pushed.version_info, response_nonce: pushed.nonce });
      ports.push((decodeResource(TYPE.listener, pushed.resources[0].value) as any).address.socket_address.port_value);
    }
    await c.quiet(1500);
    assert.ok(ports.length <= 2, `pushes for 10 writes, by port: ${ports.join(', ')}`);
    assert.match((await app.http('GET', '/metrics')).text, /switchyard_xds_debounce_coalesced_changes_bucket\{le="10"\} [1-9]/);
    c.close();
  });
});
