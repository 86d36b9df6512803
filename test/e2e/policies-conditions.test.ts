import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type * as grpc from '@grpc/grpc-js';
import { startTestApp, type TestApp } from '../support/app.js';
import { type EchoBackend, startEchoBackend, tally } from '../support/echo-backends.js';
import { apply, endpointOf, eventually, nackCount, useXds, xdsClient } from '../support/xds-client.js';

const NODE = 'conditions-client';

/**
 * What a proxyless client cannot honour is not sent to it, and said: on the
 * Policy's status, in the client's config dump and in the metrics. The client
 * keeps working on what it can do.
 */
describe('settings proxyless clients cannot honour: left out, reported, never NACKed (real grpc-js-xds client)', () => {
  let app: TestApp;
  let backends: EchoBackend[];
  let client: grpc.Client;

  before(async () => {
    app = await startTestApp('pglite', { XDS_DEBOUNCE_QUIET_MS: '20' });
    backends = await Promise.all(['a', 'b'].map((n) => startEchoBackend(n)));
    await apply(app, [
      { kind: 'Policy', name: 'least', spec: { type: 'loadBalancer', loadBalancer: { algorithm: 'leastRequest', choiceCount: 2 } } },
      { kind: 'Policy', name: 'limit', spec: { type: 'rateLimit', rateLimit: { requests: 1, unit: 'minute' } } },
      { kind: 'Policy', name: 'gateway', spec: { type: 'outlierDetection', outlierDetection: { consecutive5xx: 3 } } },
      { kind: 'Policy', name: 'spare', spec: { type: 'retry', retry: { attempts: 1 } } },
      { kind: 'Service', name: 'echo', spec: { protocol: 'grpc', port: 50051, policies: ['least', 'limit', 'gateway'] } },
      ...backends.map((b) => endpointOf('echo', b.name, b.port)),
      { kind: 'Route', name: 'echo', spec: { hosts: ['echo'], rules: [{ backends: [{ service: 'echo', weight: 1 }] }] } },
    ]);
    useXds(app.xdsPort, NODE);
    client = xdsClient('echo');
    await eventually(async () => assert.ok(Object.keys(await tally(client, 20)).every((k) => k === 'a' || k === 'b')));
  });

  after(async () => {
    client?.close();
    await app?.stop();
    await Promise.all(backends.map((b) => b?.stop()));
  });

  it('the client keeps calling: round robin over both endpoints, and no rate limit (one request a minute would stop it)', async () => {
    const t = await tally(client, 200);
    assert.deepEqual(Object.keys(t).sort(), ['a', 'b'], JSON.stringify(t));
    assert.ok(t.a >= 80 && t.b >= 80, `round robin: ${JSON.stringify(t)}`);
  });

  it('each Policy says NotEnforced for the proxyless group, and why', async () => {
    const warnings = async (name: string) => (await app.http('GET', `/api/v1/policies/${name}`)).body.status.translation?.warnings ?? [];
    await eventually(async () => {
      const least = await warnings('least');
      assert.ok(least.some((w: any) => w.reason === 'NotEnforced' && w.group === 'proxyless' && w.field === 'spec.loadBalancer.algorithm' && /do not support leastRequest: they use roundRobin/.test(w.message)), JSON.stringify(least));
      assert.ok((await warnings('limit')).some((w: any) => w.reason === 'NotEnforced' && /no local rate limit/.test(w.message)));
      assert.ok((await warnings('gateway')).some((w: any) => w.reason === 'NotEnforced' && /consecutive5xx/.test(w.message)));
    });
  });

  it("the client's config dump shows the same conditions, and that nothing it would refuse was sent", async () => {
    const [dump] = (await app.http('GET', `/api/v1/proxies/${NODE}/config`)).body;
    assert.equal(dump.group, 'proxyless');
    const reasons = dump.conditions.filter((c: any) => c.reason === 'NotEnforced').map((c: any) => c.name).sort();
    assert.deepEqual([...new Set(reasons)], ['gateway', 'least', 'limit']);
    const cluster = dump.configs.CDS.resources.find((r: any) => r.name === 'echo');
    assert.equal(cluster.lb_policy, 'ROUND_ROBIN');
    assert.equal(cluster.outlier_detection.enforcing_failure_percentage.value, 0);
    const hcm = dump.configs.LDS.resources[0].api_listener.api_listener;
    assert.deepEqual(hcm.http_filters.map((f: any) => f.name), ['envoy.filters.http.router'], 'no local rate limit filter: gRPC would refuse it');
  });

  it('metrics count policies by type and condition, and conditions by kind', async () => {
    const text = (await app.http('GET', '/metrics')).text;
    assert.match(text, /switchyard_policies\{type="loadBalancer",condition="NotEnforced"\} 1/);
    assert.match(text, /switchyard_policies\{type="rateLimit",condition="NotEnforced"\} 1/);
    assert.match(text, /switchyard_policies\{type="retry",condition="Unattached"\} 1/);
    assert.match(text, /switchyard_translation_conditions\{kind="Policy",reason="NotEnforced"\} 3/);
  });

  it('sent no config the client refused', async () => {
    assert.equal(await nackCount(app), 0);
  });
});
