import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { status as Status } from '@grpc/grpc-js';
import type { EncodedResource, TypeSnapshot } from '../../src/xds/cache/cache.js';
import { versionOf } from '../../src/xds/cache/cache.js';
import { envoyRoot } from '../../src/xds/cache/envoy-protos.js';
import { TYPE } from '../../src/translate/envoy-types.js';
import { diffOf, keepRemoved, Subscriptions, viewOf } from '../../src/xds/server/views.js';
import { noteDerived, versionAfter } from '../../src/xds/cache/versions.js';
import { decodeRequest } from '../../src/xds/server/wire.js';
import { TokenBucket } from '../../src/xds/server/xds.server.js';
import { AdsTestClient, envoyNode } from '../support/ads-client.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { echoEndpoint, echoRoute, echoService, edgeListener } from '../support/fixtures.js';

const res = (name: string, hash: string) => ({ name, hash, any: new Uint8Array(), json: {}, owner: { kind: 'Service', name } }) as unknown as EncodedResource;
const snap = (...rs: EncodedResource[]): TypeSnapshot => ({ version: versionOf(rs), resources: new Map(rs.map((r) => [r.name, r])), list: rs });

describe('shared per-stream state', () => {
  it('interns subscriptions: equal name sets are one object, released with the last stream', () => {
    const subs = new Subscriptions();
    const a = subs.intern(['b', 'a'], false);
    const b = subs.intern(['a', 'b', 'a'], false);
    assert.equal(a, b);
    assert.deepEqual(a.names, ['a', 'b']);
    assert.equal(subs.intern([], true).wildcard, true, 'no names on a wildcard type means wildcard');
    assert.equal(subs.intern([], false).wildcard, false);
    assert.equal(subs.size, 3);
    subs.release(a);
    assert.equal(subs.size, 3, 'still referenced once');
    subs.release(b);
    assert.equal(subs.size, 2);
  });

  it('computes a view once per snapshot and subscription, and a diff once per pair', () => {
    const subs = new Subscriptions();
    const sub = subs.intern(['x', 'y'], false);
    const s1 = snap(res('x', '1'), res('y', '1'), res('z', '1'));
    const v1 = viewOf(s1, sub);
    assert.equal(viewOf(s1, sub), v1, 'memoized');
    assert.deepEqual(v1.list.map((r) => r.name), ['x', 'y']);
    const s2 = snap(res('x', '2'), res('z', '1'));
    const v2 = viewOf(s2, sub);
    const d = diffOf(v1, v2);
    assert.equal(diffOf(v1, v2), d, 'memoized');
    assert.deepEqual(d.changed.map((r) => `${r.name}@${r.hash}`), ['x@2']);
    assert.deepEqual(d.removed, ['y']);
    assert.deepEqual(diffOf(undefined, v2).changed, v2.list, 'nothing held: everything');
    const kept = keepRemoved(v1, v2);
    assert.deepEqual(kept.list.map((r) => r.name), ['x', 'y'], 'removals wait');
    assert.notEqual(kept.version, v2.version);
    assert.equal(viewOf(s1, subs.intern([], true)), s1, 'a wildcard view is the snapshot itself');
  });

  it('derives versions, views and diffs of a fast-path snapshot in O(changed), equal to computing them afresh', () => {
    const subs = new Subscriptions();
    const sub = subs.intern(['a', 'c'], false);
    const s1 = snap(res('a', '1'), res('b', '1'), res('c', '1'));
    const v1 = viewOf(s1, sub);
    const a2 = res('a', '2');
    const b2 = res('b', '2');
    const resources = new Map(s1.resources).set('a', a2).set('b', b2);
    const v = versionAfter(s1, [s1.resources.get('a')!, s1.resources.get('b')!], [a2, b2]);
    const s2: TypeSnapshot = { version: v.version, resources, list: s1.list.map((r) => resources.get(r.name)!) };
    v.remember(s2);
    noteDerived(s2, { from: s1, changed: ['a', 'b'] });
    assert.equal(s2.version, versionOf(s2.list), 'incremental version = full version');
    const v2 = viewOf(s2, sub);
    assert.equal(v2.version, versionOf([a2, s1.resources.get('c')!]));
    assert.deepEqual(v2.list.map((r) => `${r.name}@${r.hash}`), ['a@2', 'c@1']);
    assert.deepEqual(diffOf(v1, v2).changed.map((r) => r.name), ['a'], 'b is not subscribed');
    assert.deepEqual(diffOf(s1, s2).changed.map((r) => r.name), ['a', 'b']);
    assert.notEqual(versionOf([res('x', '1')]), versionOf([res('x', '2')]));
    assert.equal(versionOf([res('x', '1'), res('y', '1')]), versionOf([res('y', '1'), res('x', '1')]), 'order does not matter');
  });

  it('decodes requests lazily with the same result as a full decode', () => {
    const t = envoyRoot().lookupType('envoy.service.discovery.v3.DiscoveryRequest');
    const full = {
      version_info: 'v1',
      node: { id: 'n1', cluster: 'c', user_agent_name: 'envoy' },
      resource_names: ['a', 'b', 'c'],
      type_url: TYPE.endpoint,
      response_nonce: 'n',
      error_detail: { code: 3, message: 'bad' },
    };
    const buf = Buffer.from(t.encode(t.fromObject(full)).finish());
    const req = decodeRequest(buf);
    assert.equal(req.version_info, 'v1');
    assert.equal(req.type_url, TYPE.endpoint);
    assert.equal(req.response_nonce, 'n');
    assert.deepEqual(req.error_detail, { code: 3, message: 'bad' });
    assert.deepEqual(req.resource_names, ['a', 'b', 'c']);
    assert.equal(req.node?.id, 'n1');
    assert.equal(req.node?.cluster, 'c');
    // Names split by other fields (legal protobuf) still decode, and equal sets give equal raw bytes.
    const w = Buffer.concat([
      Buffer.from(t.encode(t.fromObject({ resource_names: ['a'] })).finish()),
      Buffer.from(t.encode(t.fromObject({ type_url: TYPE.route })).finish()),
      Buffer.from(t.encode(t.fromObject({ resource_names: ['b', 'c'] })).finish()),
    ]);
    const split = decodeRequest(w);
    assert.deepEqual(split.resource_names, ['a', 'b', 'c']);
    assert.equal(split.type_url, TYPE.route);
    assert.ok(split.names_raw?.equals(req.names_raw!));
    const empty = decodeRequest(Buffer.from(t.encode(t.fromObject({ type_url: TYPE.cluster })).finish()));
    assert.deepEqual(empty.resource_names, []);
    assert.equal(empty.node, undefined);
  });

  it('a token bucket admits the burst, then the rate', () => {
    const b = new TokenBucket(1, 3);
    assert.deepEqual([b.take(), b.take(), b.take(), b.take()], [true, true, true, false]);
    assert.equal(new TokenBucket(0, 1).take() && new TokenBucket(0, 1).take(), true, 'rate 0 admits everything');
  });
});

describe('fan-out to many streams of one group', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp('pglite', { XDS_DEBOUNCE_QUIET_MS: '5', XDS_MAX_NEW_STREAMS_PER_SECOND: '1', XDS_NEW_STREAM_BURST: '40' });
    const r = await app.http('POST', '/api/v1/apply', [echoService(), echoEndpoint('e1', 'v1', 1001), echoEndpoint('e2', 'v2', 1002), echoRoute(), edgeListener()]);
    assert.equal(r.status, 200, r.text);
    // Wait until the xDS builder has published the applied catalogue.
    for (let i = 0; ; i++) {
      const c = new AdsTestClient(app.xdsPort);
      c.send({ node: envoyNode('probe'), type_url: TYPE.endpoint, resource_names: ['echo/v1', 'echo/v2'] });
      const got = (await c.next()).resources.length;
      c.close();
      if (got === 2) break;
      assert.ok(i < 50, 'catalogue never published');
      await new Promise((r) => setTimeout(r, 50));
    }
  });
  after(async () => {
    await app?.stop();
  });

  it('sends every stream the same bytes and nonce, only the changed endpoints, and refuses streams beyond admission', async () => {
    const clients = Array.from({ length: 20 }, () => new AdsTestClient(app.xdsPort));
    try {
      const sub = ['echo/v1', 'echo/v2'];
      for (const [i, c] of clients.entries()) c.send({ node: envoyNode(`p${i}`), type_url: TYPE.endpoint, resource_names: sub });
      const first = await Promise.all(clients.map((c) => c.next()));
      assert.equal(new Set(first.map((r) => r.nonce)).size, 1, 'one shared response');
      assert.deepEqual(first[0].resources.length, 2);
      for (const [i, c] of clients.entries()) c.send({ node: envoyNode(`p${i}`), type_url: TYPE.endpoint, version_info: first[i].version_info, response_nonce: first[i].nonce, resource_names: sub });
      const r = await app.http('PATCH', '/api/v1/services/echo/endpoints/e2', { spec: { health: 'unhealthy' } });
      assert.equal(r.status, 200, r.text);
      const second = await Promise.all(clients.map((c) => c.next()));
      assert.equal(new Set(second.map((x) => x.nonce)).size, 1);
      assert.equal(second[0].resources.length, 1, 'only the changed load assignment');
      assert.notEqual(second[0].version_info, first[0].version_info);
      for (const [i, c] of clients.entries()) c.send({ type_url: TYPE.endpoint, version_info: second[i].version_info, response_nonce: second[i].nonce, resource_names: sub });
      await new Promise((r) => setTimeout(r, 100));
      const proxies = (await app.http('GET', '/api/v1/proxies')).body.items;
      assert.equal(proxies.length, 20);
      for (const p of proxies) assert.equal(p.types.EDS?.lastAckedVersion ?? p.types.eds?.lastAckedVersion, second[0].version_info);
      // The bucket holds at most 40 and refills at 1/s, however long the steps above took on a loaded machine:
      // of 100 more streams, at most 40 + (seconds taken) are admitted, and each one either gets EDS or is refused.
      const started = Date.now();
      const extra = Array.from({ length: 100 }, () => new AdsTestClient(app.xdsPort));
      clients.push(...extra);
      for (const [i, c] of extra.entries()) c.send({ node: envoyNode(`x${i}`), type_url: TYPE.endpoint, resource_names: sub });
      const outcomes = await Promise.all(extra.map((c) => Promise.race([c.next(15_000).then(() => 'admitted'), c.closed(15_000).then(() => 'closed')])));
      const seconds = Math.ceil((Date.now() - started) / 1000);
      const refused = extra.filter((c) => c.status?.code === Status.RESOURCE_EXHAUSTED);
      assert.equal(refused.length, outcomes.filter((o) => o === 'closed').length, 'every closed stream was refused by admission control');
      assert.ok(outcomes.filter((o) => o === 'admitted').length <= 40 + seconds, `${outcomes.filter((o) => o === 'admitted').length} admitted in ${seconds} s`);
      assert.ok(refused.length >= 1, `${refused.length} refused`);
      assert.match(refused[0].status!.details, /admission control/);
      const metrics = (await app.http('GET', '/metrics')).text;
      assert.match(metrics, /switchyard_xds_streams_refused_total \d+/);
    } finally {
      for (const c of clients) c.close();
    }
  });
});
