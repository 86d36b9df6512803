import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type * as grpc from '@grpc/grpc-js';
import { TYPE } from '../../src/translate/envoy-types.js';
import { decodeResource } from '../../src/xds/cache/envoy-protos.js';
import { validateEncoded } from '../../src/xds/cache/pgv.js';
import { AdsTestClient, envoyNode } from '../support/ads-client.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { attempt, type EchoBackend, startEchoBackend } from '../support/echo-backends.js';
import { acked, calls, countOf } from '../support/policy-traffic.js';
import { apply, endpointOf, eventually, nackCount, useXds, xdsClient } from '../support/xds-client.js';

const NODE = 'observability-e2e';
const ENVOY = 'observability-envoy';

const tracing = { kind: 'Policy', name: 'traces', spec: { type: 'tracing', tracing: { collector: { service: 'otel' }, samplingPercent: 25, serviceName: 'edge' } } };
const logs = { kind: 'Policy', name: 'errors', spec: { type: 'accessLog', accessLog: { minStatus: 500 } } };
const route = (policies: string[]) => ({ kind: 'Route', name: 'echo', spec: { hosts: ['echo'], policies, rules: [{ backends: [{ service: 'echo', weight: 1 }] }] } });
const listener = (policies: string[]) => ({ kind: 'Listener', name: 'edge', spec: { group: 'default', address: '0.0.0.0', port: 10000, protocol: 'grpc', routes: ['echo'], policies } });

/**
 * tracing and accessLog on a real control plane: an Envoy node (a raw ADS
 * client) gets them in its listener's connection manager, with the collector's
 * cluster; a real grpc-js-xds client of the same Route gets none of it, keeps
 * calling and ACKs every update; the Policies say what proxyless clients miss.
 */
describe('tracing and accessLog policies: in Envoy listeners, never sent to proxyless gRPC clients', () => {
  let app: TestApp;
  let backend: EchoBackend;
  let client: grpc.Client;
  let envoy: AdsTestClient;

  before(async () => {
    app = await startTestApp('pglite', { XDS_DEBOUNCE_QUIET_MS: '20' });
    backend = await startEchoBackend('a');
    await apply(app, [
      { kind: 'Service', name: 'echo', spec: { protocol: 'grpc', port: 50051 } },
      endpointOf('echo', 'a', backend.port),
      // The collector need not run: Envoy would only export to it.
      { kind: 'Service', name: 'otel', spec: { protocol: 'grpc', port: 4317 } },
      endpointOf('otel', 'otel-1', 4317),
      route([]),
    ]);
    useXds(app.xdsPort, NODE);
    client = xdsClient('echo');
    await eventually(async () => assert.equal((await attempt(client)).server, 'a'));
  });

  after(async () => {
    envoy?.close();
    client?.close();
    await app?.stop();
    await backend?.stop();
  });

  /** ACKs what the Envoy node is sent until a response of `type` passes `check`; returns that response, decoded. */
  async function envoyGets(type: string, check: (resources: any[]) => boolean): Promise<{ resources: any[]; raw: Uint8Array[] }> {
    const end = Date.now() + 15000;
    for (;;) {
      const r = await envoy.next(Math.max(1, end - Date.now()));
      envoy.send({ type_url: r.type_url, version_info: r.version_info, response_nonce: r.nonce });
      const resources = r.resources.map((a) => decodeResource(a.type_url, a.value));
      if (r.type_url === type && check(resources)) return { resources, raw: r.resources.map((a) => a.value) };
    }
  }
  const hcmOf = (l: any) => l.filter_chains[0].filters[0].typed_config;

  it('an Envoy node gets tracing and access_log in its listener, and the collector cluster, valid by Envoy rules', async () => {
    // Attached to both: the Listener's own policies render there; the Route's reach the proxyless client (and are reported).
    await apply(app, [tracing, logs, listener(['traces', 'errors']), route(['traces', 'errors'])]);
    envoy = new AdsTestClient(app.xdsPort);
    envoy.send({ node: envoyNode(ENVOY), type_url: TYPE.cluster });
    envoy.send({ node: envoyNode(ENVOY), type_url: TYPE.listener });
    const cds = await envoyGets(TYPE.cluster, (cs) => cs.length > 0);
    assert.deepEqual(cds.resources.map((c) => c.name).sort(), ['echo', 'otel'], 'the collector cluster is sent with the listener that exports to it');
    const lds = await envoyGets(TYPE.listener, (ls) => ls.length > 0);
    assert.equal(lds.resources.length, 1);
    assert.deepEqual(validateEncoded(TYPE.listener, lds.raw[0]), []);
    const hcm = hcmOf(lds.resources[0]);
    assert.equal(hcm.tracing.provider.name, 'envoy.tracers.opentelemetry');
    assert.equal(hcm.tracing.provider.typed_config['@type'], 'type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig');
    assert.equal(hcm.tracing.provider.typed_config.grpc_service.envoy_grpc.cluster_name, 'otel');
    assert.equal(hcm.tracing.provider.typed_config.service_name, 'edge');
    assert.equal(hcm.tracing.random_sampling.value, 25);
    assert.equal(hcm.access_log.length, 1);
    assert.equal(hcm.access_log[0].name, 'envoy.access_loggers.stdout');
    assert.deepEqual(hcm.access_log[0].filter.status_code_filter.comparison, { op: 'GE', value: { default_value: 500, runtime_key: 'switchyard.access_log.min_status' } });
    assert.ok(hcm.access_log[0].typed_config.log_format.json_format.fields.response_code, 'the default JSON fields');
  });

  it('the proxyless client gets neither, ACKs every update and keeps calling', async () => {
    const sent = await acked(app, NODE, (s) => (s.LDS ?? []).some((l: any) => l.name === 'echo'));
    const hcm = sent.LDS.find((l: any) => l.name === 'echo').api_listener.api_listener;
    assert.equal(hcm.tracing, undefined);
    assert.equal(hcm.access_log, undefined);
    assert.deepEqual(Object.keys(hcm).sort(), ['@type', 'codec_type', 'http_filters', 'rds', 'stat_prefix']);
    assert.deepEqual(countOf(await calls(client, 20)), { a: 20 });
  });

  it('each Policy says NotEnforced for the proxyless group, and nothing was NACKed', async () => {
    const warnings = async (name: string) => (await app.http('GET', `/api/v1/policies/${name}`)).body.status.translation?.warnings ?? [];
    await eventually(async () => {
      const t = await warnings('traces');
      assert.ok(t.some((w: any) => w.reason === 'NotEnforced' && w.group === 'proxyless' && /do not trace/.test(w.message)), JSON.stringify(t));
      const a = await warnings('errors');
      assert.ok(a.some((w: any) => w.reason === 'NotEnforced' && w.group === 'proxyless' && /no access log/.test(w.message)), JSON.stringify(a));
    });
    assert.equal(await nackCount(app), 0);
  });

  it('a collector that does not exist is an error on the Policy, and the listener is sent untraced', async () => {
    await apply(app, [{ ...tracing, spec: { type: 'tracing', tracing: { collector: { service: 'jaeger' } } } }]);
    const errors = async () => (await app.http('GET', '/api/v1/policies/traces')).body.status.translation?.errors ?? [];
    await eventually(async () => {
      const e = await errors();
      assert.ok(e.some((x: any) => x.reason === 'InvalidReference' && x.field === 'spec.tracing.collector' && /Service jaeger does not exist/.test(x.message)), JSON.stringify(e));
    });
    const lds = await envoyGets(TYPE.listener, (ls) => ls.length === 1 && !hcmOf(ls[0]).tracing);
    const hcm = hcmOf(lds.resources[0]);
    assert.equal(hcm.tracing, undefined);
    assert.equal(hcm.access_log.length, 1, 'the access log stays');
    assert.deepEqual(countOf(await calls(client, 10)), { a: 10 });
    assert.equal(await nackCount(app), 0);
  });
});
