import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type * as grpc from '@grpc/grpc-js';
import { startTestApp, type TestApp } from '../support/app.js';
import { attempt, type EchoBackend, startEchoBackend, tally } from '../support/echo-backends.js';
import { apply, endpointOf, eventually, nackCount, useXds, xdsClient } from '../support/xds-client.js';

const NODE_ID = 'ring-hash-client';
const KEYS = Array.from({ length: 20 }, (_, i) => `user-${i}`);
const CALLS_PER_KEY = 500;
const NAMES = ['a', 'b', 'c'];

/** The share of `t` the busiest server got, and which one it was (failure codes count against it). */
const top = (t: Record<string, number>) => {
  const [server, n] = Object.entries(t).sort(([, x], [, y]) => y - x)[0];
  return { server, n, total: Object.values(t).reduce((a, x) => a + x, 0) };
};

describe('loadBalancer ringHash with a real grpc-js-xds client', () => {
  let app: TestApp;
  let backends: EchoBackend[] = [];
  let client: grpc.Client;

  before(async () => {
    app = await startTestApp('pglite', { XDS_DEBOUNCE_QUIET_MS: '20' });
    backends = await Promise.all(NAMES.map((n) => startEchoBackend(n)));
    await apply(app, [
      { kind: 'Policy', name: 'sticky', spec: { type: 'loadBalancer', loadBalancer: { algorithm: 'ringHash', hashOn: { header: 'x-user' } } } },
      { kind: 'Service', name: 'echo', spec: { protocol: 'grpc', port: 50051, policies: ['sticky'] } },
      ...backends.map((b) => endpointOf('echo', b.name, b.port, { locality: { region: 'r1', zone: 'z1' } })),
      { kind: 'Route', name: 'echo', spec: { hosts: ['echo'], rules: [{ backends: [{ service: 'echo', weight: 1 }] }] } },
    ]);
    useXds(app.xdsPort, NODE_ID);
    client = xdsClient('echo');
    // The client's first config already carries the policy: the first answered call means it is in force.
    await eventually(async () => assert.ok((await attempt(client, { 'x-user': 'warm-up' })).server));
  });

  after(async () => {
    client?.close();
    await Promise.all(backends.map((b) => b.stop()));
    await app?.stop();
  });

  it(`sends each of ${KEYS.length} x-user keys to one endpoint (≥ 99 % of ${CALLS_PER_KEY} calls), and uses every endpoint`, async () => {
    const home = new Map<string, string>();
    for (const key of KEYS) {
      const t = await tally(client, CALLS_PER_KEY, { metadata: { 'x-user': key }, concurrency: 50 });
      const { server, n, total } = top(t);
      assert.equal(total, CALLS_PER_KEY);
      assert.ok(NAMES.includes(server), `key ${key}: busiest outcome is ${server} (${JSON.stringify(t)})`);
      assert.ok(n >= 0.99 * CALLS_PER_KEY, `key ${key} is not sticky: ${JSON.stringify(t)}`);
      home.set(key, server);
    }
    // Different keys spread over every endpoint. Twenty keys could all miss one of three by chance (3 × (2/3)^20 ≈ 0.09 %):
    // 80 more keys, each hashed by a few calls, make that ≈ 3 × (2/3)^100 ≈ 10^-17.
    for (let k = 0; k < 80; k++) {
      const key = `spread-${k}`;
      const t = await tally(client, 5, { metadata: { 'x-user': key }, concurrency: 5 });
      const { server, n } = top(t);
      assert.equal(n, 5, `key ${key} is not sticky: ${JSON.stringify(t)}`);
      home.set(key, server);
    }
    const used = new Set(home.values());
    assert.deepEqual([...used].sort(), NAMES, `keys by endpoint: ${JSON.stringify(Object.fromEntries(home))}`);
    // The servers saw the calls too (the names in replies are not made up by the client).
    const seen = backends.map((b) => b.stats().calls);
    assert.ok(seen.every((c) => c >= CALLS_PER_KEY), `calls per backend: ${seen}`);
  });

  const myStream = async () => (await app.http('GET', '/api/v1/proxies')).body.items.find((p: any) => p.id === NODE_ID)?.streamId;

  it('detaching the policy through the REST API spreads one key over every endpoint, live', async () => {
    const key = { 'x-user': KEYS[0] };
    const stream = await myStream();
    assert.ok(stream, 'the client has an xDS stream');
    // Still sticky just before the change.
    const before = await tally(client, 300, { metadata: key });
    assert.ok(top(before).n >= 297, JSON.stringify(before));

    const r = await app.http('PATCH', '/api/v1/services/echo', { spec: { policies: [] } }, { 'content-type': 'application/merge-patch+json' });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.spec.policies ?? [], []);

    await eventually(async () => {
      const t = await tally(client, 150, { metadata: key });
      assert.deepEqual(Object.keys(t).sort(), NAMES, JSON.stringify(t));
    }, 15000);
    // Converged: round robin gives each endpoint about a third of the calls of that one key.
    const t = await tally(client, 600, { metadata: key });
    assert.deepEqual(Object.keys(t).sort(), NAMES, JSON.stringify(t));
    for (const n of NAMES) assert.ok(t[n] >= 150, `round robin share of ${n}: ${JSON.stringify(t)}`);
    // No restart and no reconnect: the same client on the same xDS stream got the change pushed.
    assert.equal(await myStream(), stream);
  });

  it('shows the client in /api/v1/proxies with every type ACKed and no NACK', async () => {
    const me = (await app.http('GET', '/api/v1/proxies')).body.items.find((p: any) => p.id === NODE_ID);
    assert.ok(me, 'the client is listed');
    for (const t of ['LDS', 'RDS', 'CDS', 'EDS']) {
      assert.equal(me.types[t].lastAckedVersion, me.types[t].lastSentVersion, `${t} acked`);
      assert.equal(me.types[t].lastNack, undefined, `${t} never NACKed`);
    }
    assert.equal(await nackCount(app), 0);
  });
});
