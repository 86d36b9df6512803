import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TYPE } from '../../src/translate/envoy-types.js';
import { decodeDeltaResponse } from '../../tools/xds-wire.js';
import { AdsTestClient, envoyNode } from '../support/ads-client.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { echoEndpoint, echoRoute, echoService, edgeListener } from '../support/fixtures.js';

type Delta = ReturnType<typeof decodeDeltaResponse>;
const got = (r: Delta) => r.resources.map((x) => x.name).sort();

describe('ADS Delta (incremental): protocol behaviour', () => {
  let app: TestApp;
  const clients: AdsTestClient<Delta>[] = [];
  const connect = () => {
    const c = new AdsTestClient<Delta>(app.xdsPort, true);
    clients.push(c);
    return c;
  };
  const ack = (c: AdsTestClient<Delta>, r: Delta) => c.send({ type_url: r.type_url, response_nonce: r.nonce });

  before(async () => {
    app = await startTestApp('pglite', { XDS_DEBOUNCE_QUIET_MS: '10' });
    const other = { ...echoService(), name: 'other' };
    const otherRoute = { ...echoRoute(), name: 'other', spec: { hosts: ['other'], rules: [{ backends: [{ service: 'other', subset: 'v1', weight: 1 }] }] } };
    const r = await app.http('POST', '/api/v1/apply', [echoService(), other, echoEndpoint('echo-1', 'v1'), echoEndpoint('echo-2', 'v2', 50062), echoRoute(), otherRoute, edgeListener(['echo', 'other'])]);
    assert.equal(r.status, 200, r.text);
    await new Promise((r) => setTimeout(r, 200));
  });
  after(async () => {
    for (const c of clients) c.close();
    await app?.stop();
  });

  it('wildcard CDS: sends everything once with per-resource versions, then only what changed, then removals', async () => {
    const c = connect();
    c.send({ node: envoyNode('d1'), type_url: TYPE.cluster });
    const first = await c.next();
    assert.deepEqual(got(first), ['echo/v1', 'echo/v2', 'other/v1']);
    assert.ok(first.resources.every((r) => r.version.length > 10));
    assert.deepEqual(first.removed_resources, []);
    ack(c, first);
    await c.quiet();

    await app.http('PATCH', '/api/v1/services/other', { spec: { connectTimeoutMs: 4000 } });
    const changed = await c.next();
    assert.deepEqual(got(changed), ['other/v1'], 'only the changed cluster');
    ack(c, changed);

    c.send({ type_url: TYPE.route, resource_names_subscribe: ['edge'] });
    const rds = await c.next();
    assert.equal(rds.type_url, TYPE.route);
    ack(c, rds);
    await app.http('PATCH', '/api/v1/listeners/edge', { spec: { routes: ['echo'] } });
    await app.http('DELETE', '/api/v1/routes/other');
    const routeFirst = await c.next();
    assert.equal(routeFirst.type_url, TYPE.route, 'the route stops using the cluster first');
    ack(c, routeFirst);
    const removed = await c.next();
    assert.deepEqual(removed.resources, []);
    assert.deepEqual(removed.removed_resources, ['other/v1']);
    ack(c, removed);
    await c.quiet();
  });

  it('named EDS subscriptions: subscribe, unsubscribe, and only changed endpoints', async () => {
    const c = connect();
    c.send({ node: envoyNode('d2'), type_url: TYPE.endpoint, resource_names_subscribe: ['echo/v1'] });
    const one = await c.next();
    assert.deepEqual(got(one), ['echo/v1']);
    ack(c, one);
    c.send({ type_url: TYPE.endpoint, resource_names_subscribe: ['echo/v2'] });
    const two = await c.next();
    assert.deepEqual(got(two), ['echo/v2'], 'only the newly subscribed one');
    ack(c, two);
    await app.http('PATCH', '/api/v1/services/echo/endpoints/echo-2', { spec: { health: 'unhealthy' } });
    const three = await c.next();
    assert.deepEqual(got(three), ['echo/v2']);
    ack(c, three);
    c.send({ type_url: TYPE.endpoint, resource_names_unsubscribe: ['echo/v2'] });
    await app.http('PATCH', '/api/v1/services/echo/endpoints/echo-2', { spec: { health: 'healthy' } });
    await c.quiet();
  });

  it('reconnect with initial_resource_versions: nothing resent when nothing changed', async () => {
    const c = connect();
    c.send({ node: envoyNode('d3'), type_url: TYPE.cluster });
    const first = await c.next();
    ack(c, first);
    c.close();
    const d = connect();
    const versions = Object.fromEntries(first.resources.map((r) => [r.name, r.version]));
    d.send({ node: envoyNode('d3'), type_url: TYPE.cluster, initial_resource_versions: versions });
    await d.quiet();
    const stale = { ...versions, 'echo/v1': 'old' };
    const e = connect();
    e.send({ node: envoyNode('d4'), type_url: TYPE.cluster, initial_resource_versions: { ...stale, gone: 'x' } });
    const r = await e.next();
    assert.deepEqual(got(r), ['echo/v1']);
    assert.deepEqual(r.removed_resources, ['gone']);
  });

  it('a NACK is recorded and does not cause a resend loop', async () => {
    const c = connect();
    c.send({ node: envoyNode('d5'), type_url: TYPE.listener });
    const lds = await c.next();
    c.send({ type_url: TYPE.listener, response_nonce: lds.nonce, error_detail: { code: 3, message: 'nope' } });
    await c.quiet();
    const p = (await app.http('GET', '/api/v1/proxies')).body.items.find((x: any) => x.id === 'd5');
    assert.equal(p.protocol, 'delta');
    assert.equal(p.types.LDS.lastNack.message, 'nope');
  });
});
