import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TYPE } from '../../src/translate/envoy-types.js';
import { AdsTestClient, envoyNode } from '../support/ads-client.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { echoEndpoint, echoRoute, echoService, edgeListener } from '../support/fixtures.js';

/*
 * Node groups with no stream left are dropped (XDS_IDLE_GROUP_TTL_MS): a
 * client sending ever new node.cluster values must not grow memory and the
 * work of every rebuild for good. A group still in use is kept, and a client
 * that comes back gets the same versions (content hashes): no needless push.
 */
describe('xDS: idle node groups are forgotten', () => {
  let app: TestApp;
  const clients: AdsTestClient[] = [];
  const groups = async () => {
    const text = (await app.http('GET', '/metrics')).text;
    const m = /^switchyard_xds_node_groups (\d+)$/m.exec(text);
    assert.ok(m, 'the node-groups gauge is exported');
    return Number(m[1]);
  };
  const until = async (check: () => Promise<boolean>, what: string) => {
    for (let i = 0; i < 100; i++) {
      if (await check()) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`${what}: not within 5 s (groups ${await groups()})`);
  };
  // Each zone is a node group of its own (localities are part of the group: they order endpoint priorities).
  const open = async (id: string, zone: string, version_info?: string) => {
    const c = new AdsTestClient(app.xdsPort);
    clients.push(c);
    c.send({ node: { ...envoyNode(id), locality: { zone } }, type_url: TYPE.cluster, ...(version_info ? { version_info } : {}) });
    return c;
  };

  const next = (c: AdsTestClient, what: string) => c.next().catch((e: Error) => assert.fail(`${what}: ${e.message}`));

  before(async () => {
    app = await startTestApp('pglite', { XDS_DEBOUNCE_QUIET_MS: '10', XDS_IDLE_GROUP_TTL_MS: '200' });
    const r = await app.http('POST', '/api/v1/apply', [echoService(), echoEndpoint('echo-1', 'v1'), echoRoute(), edgeListener()]);
    assert.equal(r.status, 200, r.text);
  });
  after(async () => {
    for (const c of clients) c.close();
    await app?.stop();
  });

  it('drops the groups whose streams all ended, keeps the one in use, and serves a returning client the same versions', async () => {
    const keep = await open('keep', 'in-use');
    const kept = await next(keep, 'keep: first CDS');
    assert.ok(kept.resources.length > 0);
    keep.send({ type_url: TYPE.cluster, version_info: kept.version_info, response_nonce: kept.nonce });
    const passing: AdsTestClient[] = [];
    const versions: string[] = [];
    for (let i = 0; i < 20; i++) {
      const c = await open(`passing-${i}`, `passing-${i}`);
      versions.push((await next(c, `passing-${i}: first CDS`)).version_info);
      passing.push(c);
    }
    assert.equal(await groups(), 21);
    for (const c of passing) c.close();
    await until(async () => (await groups()) === 1, 'the 20 idle groups are dropped');

    // The group in use was kept: it still gets changes.
    const r = await app.http('POST', '/api/v1/apply', [echoService({ connectTimeoutMs: 2000 })]);
    assert.equal(r.status, 200, r.text);
    const pushed = await next(keep, 'keep: the change');
    assert.notEqual(pushed.version_info, kept.version_info);

    // Coming back with what it holds: rebuilt, same content, so no resend; a newcomer gets that version.
    const back = await open('passing-3', 'passing-3', versions[3]);
    const fresh = await open('fresh', 'passing-3');
    const now = await next(fresh, 'fresh: first CDS');
    assert.equal(await groups(), 2);
    // The change to `other` made the catalogue differ from what passing-3 held: it is sent that, once.
    const got = await next(back, 'back: the catalogue it lacks');
    assert.equal(got.version_info, now.version_info);
    back.send({ type_url: TYPE.cluster, version_info: got.version_info, response_nonce: got.nonce });
    await back.quiet();
    const nacks = /^switchyard_xds_nacks_total\{.*\} (\d+)$/gm;
    assert.equal([...(await app.http('GET', '/metrics')).text.matchAll(nacks)].reduce((n, m) => n + Number(m[1]), 0), 0, 'no NACKs');
  });
});
