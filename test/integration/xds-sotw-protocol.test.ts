import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { decodeResource } from '../../src/xds/cache/envoy-protos.js';
import { TYPE } from '../../src/translate/envoy-types.js';
import { AdsTestClient, envoyNode, grpcNode } from '../support/ads-client.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { echoEndpoint, echoRoute, echoService, edgeListener } from '../support/fixtures.js';

const names = (r: { resources: { type_url: string; value: Uint8Array }[] }) =>
  r.resources.map((a) => {
    const d = decodeResource(a.type_url, a.value);
    return (d.name ?? d.cluster_name) as string;
  });

describe('ADS state of the world: protocol behaviour', () => {
  let app: TestApp;
  const clients: AdsTestClient[] = [];
  const connect = () => {
    const c = new AdsTestClient(app.xdsPort);
    clients.push(c);
    return c;
  };

  before(async () => {
    app = await startTestApp('pglite', { XDS_DEBOUNCE_QUIET_MS: '10' });
  });
  after(async () => {
    for (const c of clients) c.close();
    await app?.stop();
  });
  beforeEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await app.http('DELETE', '/api/v1/listeners/edge');
    await app.http('DELETE', '/api/v1/services/echo?cascade=true');
    await app.http('DELETE', '/api/v1/services/other?cascade=true');
    const r = await app.http('POST', '/api/v1/apply', [echoService(), echoEndpoint('echo-1', 'v1'), echoEndpoint('echo-2', 'v2', 50062), echoRoute(), edgeListener()]);
    assert.equal(r.status, 200, r.text);
    await settle();
  });

  /** Waits until the builder has published the latest revision. */
  async function settle(): Promise<void> {
    const head = (await app.http('GET', '/api/v1/changes?since=0&limit=1')).body.revision;
    for (let i = 0; i < 100; i++) {
      if ((await app.http('GET', '/api/v1/proxies')).body.revision === head) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error('builder did not catch up');
  }

  it('answers the first request, takes an ACK, and sends nothing more while nothing changes', async () => {
    const c = connect();
    c.send({ node: envoyNode('p1'), type_url: TYPE.cluster });
    const cds = await c.next();
    assert.equal(cds.type_url, TYPE.cluster);
    assert.ok(cds.version_info && cds.nonce);
    assert.deepEqual(names(cds).sort(), ['echo/v1', 'echo/v2']);
    c.send({ type_url: TYPE.cluster, version_info: cds.version_info, response_nonce: cds.nonce });
    await c.quiet();
    const p = (await app.http('GET', '/api/v1/proxies')).body.items.find((x: any) => x.id === 'p1');
    assert.equal(p.types.CDS.lastAckedVersion, cds.version_info);
    assert.equal(p.clientKind, 'envoy');
  });

  it('a request whose node does not decode ends that stream with INVALID_ARGUMENT; the server and other streams carry on', async () => {
    const steady = connect();
    steady.send({ node: envoyNode('steady'), type_url: TYPE.cluster });
    const cds = await steady.next();
    steady.send({ type_url: TYPE.cluster, version_info: cds.version_info, response_nonce: cds.nonce });
    // DiscoveryRequest{node (field 2) = an unknown field 100 with the invalid wire type 7, type_url (field 4)}.
    const type = Buffer.from(TYPE.cluster);
    const bad = new AdsTestClient(app.xdsPort);
    clients.push(bad);
    bad.sendRaw(Buffer.concat([Buffer.from([0x12, 3, 0xa7, 0x06, 0x00]), Buffer.from([0x22, type.length]), type]));
    const s = await bad.closed();
    assert.equal(s.code, 3, s.details);
    assert.match(s.details, /node does not decode/);
    // The process is alive and the first stream still gets changes.
    const r = await app.http('POST', '/api/v1/apply', [echoEndpoint('echo-3', 'v1', 50063)]);
    assert.equal(r.status, 200, r.text);
    steady.send({ type_url: TYPE.endpoint, resource_names: ['echo/v1'] });
    const eds = await steady.next();
    assert.equal(eds.type_url, TYPE.endpoint);
    const p = (await app.http('GET', '/api/v1/proxies')).body.items;
    assert.deepEqual(p.map((x: any) => x.id), ['steady'], 'the failed stream leaves no proxy behind');
  });

  it('a NACK keeps the config, records the error, and causes no resend loop; the next change is sent', async () => {
    const c = connect();
    c.send({ node: envoyNode('p2'), type_url: TYPE.listener });
    const lds = await c.next();
    assert.deepEqual(names(lds), ['edge']);
    c.send({ type_url: TYPE.listener, version_info: '', response_nonce: lds.nonce, error_detail: { code: 3, message: 'bad listener' } });
    await c.quiet();
    const p = (await app.http('GET', '/api/v1/proxies')).body.items.find((x: any) => x.id === 'p2');
    assert.equal(p.types.LDS.lastNack.message, 'bad listener');
    assert.equal(p.types.LDS.lastNack.version, lds.version_info);
    assert.match((await app.http('GET', '/metrics')).text, /switchyard_xds_nacks_total\{type="LDS",group="default"\} 1/);
    await app.http('PATCH', '/api/v1/listeners/edge', { spec: { port: 10001 } });
    const next = await c.next();
    assert.notEqual(next.version_info, lds.version_info, 'a new version after the NACK');
  });

  it('ignores a request carrying a stale nonce', async () => {
    const c = connect();
    c.send({ node: envoyNode('p3'), type_url: TYPE.listener });
    const first = await c.next();
    c.send({ type_url: TYPE.listener, version_info: first.version_info, response_nonce: first.nonce });
    await app.http('PATCH', '/api/v1/listeners/edge', { spec: { port: 10002 } });
    const second = await c.next();
    assert.notEqual(second.nonce, first.nonce);
    // A late request about the superseded response, even with a different subscription, is ignored.
    c.send({ type_url: TYPE.listener, version_info: first.version_info, response_nonce: first.nonce, resource_names: ['other'] });
    await c.quiet();
    c.send({ type_url: TYPE.listener, version_info: second.version_info, response_nonce: second.nonce });
    await c.quiet();
  });

  it('answers subscription changes, and sends a named resource once it appears', async () => {
    const c = connect();
    c.send({ node: grpcNode('g1'), type_url: TYPE.endpoint, resource_names: ['echo/v1'] });
    const one = await c.next();
    assert.deepEqual(names(one), ['echo/v1']);
    c.send({ type_url: TYPE.endpoint, version_info: one.version_info, response_nonce: one.nonce, resource_names: ['echo/v1', 'other'] });
    const two = await c.next();
    // EDS and RDS responses carry only what the client lacks (the spec asks full state of LDS and CDS only).
    assert.deepEqual(names(two), [], 'unknown names are remembered, not invented; echo/v1 is not resent');
    assert.equal(two.version_info, one.version_info, 'same content, same version');
    c.send({ type_url: TYPE.endpoint, version_info: two.version_info, response_nonce: two.nonce, resource_names: ['echo/v1', 'other'] });
    await c.quiet();
    await app.http('POST', '/api/v1/apply', [{ ...echoService(), name: 'other' }, { ...echoRoute(), name: 'other', spec: { hosts: ['other'], rules: [{ backends: [{ service: 'other', weight: 1 }] }] } }]);
    const three = await c.next();
    assert.deepEqual(names(three).sort(), ['other']);
  });

  it('reconnecting with the version it holds gets no identical resend; versions are content hashes', async () => {
    const c = connect();
    c.send({ node: envoyNode('p4'), type_url: TYPE.cluster });
    const cds = await c.next();
    c.close();
    await app.stop();
    // A "restarted" control plane on the same data: new process state, same content.
    const again = await startTestApp('pglite', { XDS_DEBOUNCE_QUIET_MS: '10' });
    try {
      await again.http('POST', '/api/v1/apply', [echoService(), echoEndpoint('echo-1', 'v1'), echoEndpoint('echo-2', 'v2', 50062), echoRoute(), edgeListener()]);
      await new Promise((r) => setTimeout(r, 200));
      const d = new AdsTestClient(again.xdsPort);
      d.send({ node: envoyNode('p4'), type_url: TYPE.cluster, version_info: cds.version_info });
      await d.quiet();
      const fresh = new AdsTestClient(again.xdsPort);
      fresh.send({ node: envoyNode('p5'), type_url: TYPE.cluster });
      const r = await fresh.next();
      assert.equal(r.version_info, cds.version_info, 'same content, same version on another instance');
      d.close();
      fresh.close();
    } finally {
      await again.stop();
      app = await startTestApp('pglite', { XDS_DEBOUNCE_QUIET_MS: '10' });
    }
  });

  it('a change adding a cluster and a route to it sends CDS and EDS before RDS', async () => {
    const c = connect();
    for (const t of [TYPE.cluster, TYPE.endpoint, TYPE.listener, TYPE.route]) {
      c.send({ ...(t === TYPE.cluster ? { node: grpcNode('g2') } : {}), type_url: t, resource_names: t === TYPE.endpoint ? ['echo/v1', 'echo/v2'] : t === TYPE.route ? ['echo'] : [] });
    }
    const seen = new Map<string, any>();
    while (seen.size < 4) {
      const r = await c.next();
      seen.set(r.type_url, r);
      c.send({ type_url: r.type_url, version_info: r.version_info, response_nonce: r.nonce, resource_names: r.type_url === TYPE.endpoint ? ['echo/v1', 'echo/v2'] : r.type_url === TYPE.route ? ['echo'] : [] });
    }
    await c.quiet(200);
    await app.http('POST', '/api/v1/apply', [{ ...echoService(), name: 'other' }, echoEndpoint('o-1', 'v1')].map((r, i) => (i === 1 ? { ...r, service: 'other', name: 'o-1' } : r)));
    await app.http('PATCH', '/api/v1/routes/echo', { spec: { rules: [{ backends: [{ service: 'echo', subset: 'v1', weight: 1 }, { service: 'other', weight: 1 }] }] } });
    const order: string[] = [];
    for (;;) {
      const r = await c.next(1500).catch(() => undefined);
      if (!r) break;
      order.push(r.type_url);
      c.send({ type_url: r.type_url, version_info: r.version_info, response_nonce: r.nonce, resource_names: r.type_url === TYPE.endpoint ? ['echo/v1', 'echo/v2', 'other'] : r.type_url === TYPE.route ? ['echo'] : [] });
    }
    assert.ok(order.indexOf(TYPE.cluster) >= 0 && order.indexOf(TYPE.route) >= 0, order.join());
    assert.ok(order.indexOf(TYPE.cluster) < order.indexOf(TYPE.route), `CDS before RDS: ${order.join(' → ')}`);
  });

  it('removals go last: a route stops using a cluster before the cluster is withdrawn', async () => {
    const c = connect();
    const sub = (t: string) => (t === TYPE.endpoint ? ['echo/v1', 'echo/v2'] : t === TYPE.route ? ['echo'] : []);
    for (const t of [TYPE.cluster, TYPE.endpoint, TYPE.listener, TYPE.route]) c.send({ ...(t === TYPE.cluster ? { node: grpcNode('g3') } : {}), type_url: t, resource_names: sub(t) });
    const seen = new Set<string>();
    while (seen.size < 4) {
      const r = await c.next();
      seen.add(r.type_url);
      c.send({ type_url: r.type_url, version_info: r.version_info, response_nonce: r.nonce, resource_names: sub(r.type_url) });
    }
    await c.quiet(200);
    await app.http('PUT', '/api/v1/routes/echo', { ...echoRoute(), spec: { hosts: ['echo'], rules: [{ backends: [{ service: 'echo', subset: 'v1', weight: 1 }] }] } });
    const order: string[] = [];
    for (;;) {
      const r = await c.next(1500).catch(() => undefined);
      if (!r) break;
      order.push(`${r.type_url.split('.').pop()}:${names(r).sort().join('+')}`);
      c.send({ type_url: r.type_url, version_info: r.version_info, response_nonce: r.nonce, resource_names: sub(r.type_url) });
    }
    // EDS for echo/v2 is still subscribed by name, so its withdrawal also comes after the route. SotW EDS
    // responses carry only changed resources, and nothing changed in echo/v1: the response only moves the version.
    assert.deepEqual(order, ['RouteConfiguration:echo', 'Cluster:echo/v1', 'ClusterLoadAssignment:']);
  });
});
