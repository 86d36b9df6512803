import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeResource } from '../../src/xds/cache/envoy-protos.js';
import { TYPE } from '../../src/translate/envoy-types.js';
import { AdsTestClient, envoyNode } from '../support/ads-client.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { echoRoute, echoService, edgeListener } from '../support/fixtures.js';
import { nackCount } from '../support/xds-client.js';

/**
 * A quiet window far longer than any step takes, even on a loaded machine, so
 * that a push that waited for the window is told apart from one sent at once
 * by the leading edge.
 */
const QUIET_MS = 3000;

/** The change feed's debounce: a lone change goes out at once, a burst folds into a leading and a trailing step. */
describe('leading-edge debounce', () => {
  let app: TestApp;
  let c: AdsTestClient;
  const port = (r: { resources: { value: Uint8Array }[] }) => (decodeResource(TYPE.listener, r.resources[0].value) as any).address.socket_address.port_value as number;
  const metric = async (name: string) => Number((await app.http('GET', '/metrics')).text.match(new RegExp(`^${name} (\\d+)`, 'm'))?.[1] ?? NaN);
  const rebuilds = () => metric('switchyard_xds_rebuild_seconds_count');
  /** ACKs whatever arrives until nothing has for longer than the quiet window: the feed is idle, the next change is a leading edge. */
  const settle = async () => {
    for (let r = await c.next(QUIET_MS + 500).catch(() => undefined); r; r = await c.next(QUIET_MS + 500).catch(() => undefined))
      c.send({ type_url: TYPE.listener, version_info: r.version_info, response_nonce: r.nonce });
  };

  before(async () => {
    app = await startTestApp('pglite', { XDS_DEBOUNCE_QUIET_MS: String(QUIET_MS), XDS_DEBOUNCE_MAX_MS: String(QUIET_MS * 3) });
    assert.equal((await app.http('POST', '/api/v1/apply', [echoService(), echoRoute(), edgeListener()])).status, 200);
    c = new AdsTestClient(app.xdsPort);
    c.send({ node: envoyNode('debounce'), type_url: TYPE.listener });
    for (;;) {
      const r = await c.next(QUIET_MS * 4);
      c.send({ type_url: TYPE.listener, version_info: r.version_info, response_nonce: r.nonce });
      if (r.resources.length) break;
    }
  });
  after(async () => {
    c?.close();
    await app?.stop();
  });

  it('a change after a quiet period is built and pushed at once, not after the quiet window', async () => {
    await settle();
    const before = await rebuilds();
    const t0 = Date.now();
    assert.equal((await app.http('PATCH', '/api/v1/listeners/edge', { spec: { port: 11001 } })).status, 200);
    // A trailing-only debounce would push at t0 + 3 s at the earliest.
    const pushed = await c.next(QUIET_MS - 500);
    const latency = Date.now() - t0;
    c.send({ type_url: TYPE.listener, version_info: pushed.version_info, response_nonce: pushed.nonce });
    assert.equal(port(pushed), 11001);
    assert.equal(await rebuilds(), before + 1, 'one rebuild for one change');
    console.log(`leading edge: write → push ${latency} ms with XDS_DEBOUNCE_QUIET_MS=${QUIET_MS}`);
  });

  it('a burst of writes is folded into a leading and a trailing rebuild, the last carrying the last write', async () => {
    await settle();
    const before = await rebuilds();
    const coalescedBefore = await metric('switchyard_xds_debounce_coalesced_changes_sum');
    const N = 10;
    for (let i = 0; i < N; i++) assert.equal((await app.http('PATCH', '/api/v1/listeners/edge', { spec: { port: 12000 + i } })).status, 200);
    const ports: number[] = [];
    while (ports.at(-1) !== 12000 + N - 1) {
      const r = await c.next(QUIET_MS * 4);
      c.send({ type_url: TYPE.listener, version_info: r.version_info, response_nonce: r.nonce });
      ports.push(port(r));
    }
    await settle();
    const steps = (await rebuilds()) - before;
    assert.ok(steps >= 1 && steps <= 3, `${N} writes took ${steps} rebuilds (pushes: ${ports.join(', ')})`);
    assert.ok(ports.length <= 3, `pushes: ${ports.join(', ')}`);
    // Every write is counted once in the coalescing histogram, however the steps split them.
    assert.equal((await metric('switchyard_xds_debounce_coalesced_changes_sum')) - coalescedBefore, N);
    assert.equal(await nackCount(app), 0);
    console.log(`burst: ${N} writes → ${steps} rebuilds, pushes with ports ${ports.join(', ')}`);
  });
});
