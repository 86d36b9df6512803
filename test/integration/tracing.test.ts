import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SpanKind, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { activeTracing, initTracing, type Tracing, tracingOptions } from '../../src/observability/tracing.js';
import { TYPE } from '../../src/translate/envoy-types.js';
import { AdsTestClient, envoyNode } from '../support/ads-client.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { echoRoute, echoService, edgeListener } from '../support/fixtures.js';

/*
 * Tracing with the real SDK against a real app: an API write is one trace
 * (HTTP server span → transaction span); the debounced rebuild is a root span
 * linked to every write it folded in, with validation and publish under it;
 * pushes and their ACKs hang from the publish. Off without the endpoint.
 */

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

async function waitFor<T>(what: string, fn: () => T | undefined, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const sameContext = (a: { traceId: string; spanId: string }, b: { traceId: string; spanId: string }) => a.traceId === b.traceId && a.spanId === b.spanId;

describe('tracing off (no OTEL_EXPORTER_OTLP_ENDPOINT)', () => {
  it('installs no provider: spans are non-recording no-ops, and the app starts without one', async () => {
    assert.equal(initTracing(tracingOptions(loadConfig({}))), undefined);
    const app = await startTestApp('pglite');
    try {
      assert.equal(activeTracing(), undefined, 'startApp installed tracing without an endpoint');
      const span = trace.getTracer('probe').startSpan('probe');
      assert.equal(span.isRecording(), false);
      span.end();
      assert.equal((await app.http('GET', '/api/v1/services')).status, 200);
    } finally {
      await app.stop();
    }
  });

  it('validates the tracing variables at boot', () => {
    for (const [k, v] of [
      ['OTEL_EXPORTER_OTLP_ENDPOINT', 'collector:4318'],
      ['OTEL_EXPORTER_OTLP_ENDPOINT', 'http://collector:4318/?x=1'],
      ['OTEL_TRACES_SAMPLER', 'sometimes'],
      ['OTEL_TRACES_SAMPLER_ARG', '1.5'],
      ['OTEL_TRACES_SAMPLER_ARG', 'half'],
    ])
      assert.throws(() => loadConfig({ [k]: v }), (e: Error) => e instanceof ConfigError && e.message.includes(k), `${k}=${v} was accepted`);
    const ok = loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://collector:4318/otlp', OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' });
    assert.deepEqual([ok.OTEL_EXPORTER_OTLP_ENDPOINT, ok.OTEL_TRACES_SAMPLER, ok.OTEL_TRACES_SAMPLER_ARG, ok.OTEL_SERVICE_NAME], ['https://collector:4318/otlp', 'parentbased_traceidratio', 0.25, 'switchyard']);
  });
});

describe('tracing on, with OTEL_EXPORTER_OTLP_ENDPOINT', () => {
  it('exports spans over OTLP/HTTP to <endpoint>/v1/traces, and graceful shutdown flushes them and uninstalls', async () => {
    const posts: { url: string; type: string; body: string }[] = [];
    const collector: Server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        posts.push({ url: req.url ?? '', type: req.headers['content-type'] ?? '', body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
    try {
      const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
      const app = await startTestApp('pglite', { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_SERVICE_NAME: 'switchyard-otlp-test' });
      try {
        assert.ok(activeTracing(), 'the endpoint did not turn tracing on');
        assert.equal((await app.http('GET', '/api/v1/services')).status, 200);
      } finally {
        await app.stop();
      }
      assert.equal(activeTracing(), undefined, 'close did not uninstall the tracing it installed');
      const sent = posts.filter((p) => p.url === '/v1/traces');
      assert.ok(sent.length > 0, `nothing reached the collector: ${JSON.stringify(posts.map((p) => p.url))}`);
      const all = sent.map((p) => p.body).join('\n');
      assert.match(all, /GET \/api\/v1\/services/);
      assert.match(all, /switchyard-otlp-test/);
    } finally {
      collector.close();
    }
  });
});

describe('tracing on, with an injected exporter', () => {
  const exporter = new InMemorySpanExporter();
  let tracing: Tracing;
  let app: TestApp;
  let ads: AdsTestClient;

  before(async () => {
    tracing = initTracing({ exporter, simple: true })!;
    // A quiet period long enough that writes in a row after the first (the leading edge) are always folded into one rebuild.
    app = await startTestApp('postgres', { XDS_DEBOUNCE_QUIET_MS: '1000' });
    assert.equal((await app.http('POST', '/api/v1/apply', [echoService(), echoRoute(), edgeListener()])).status, 200);
    // A proxy holding the clusters, so the traced write below is pushed to it from the publish.
    ads = new AdsTestClient(app.xdsPort);
    ads.send({ node: envoyNode('trace-probe'), type_url: TYPE.cluster });
    for (;;) {
      const cds = await ads.next();
      ads.send({ type_url: TYPE.cluster, version_info: cds.version_info, response_nonce: cds.nonce });
      if (cds.resources.length) break;
    }
  });
  after(async () => {
    ads?.close();
    await app?.stop();
    await tracing?.shutdown();
    assert.equal(activeTracing(), undefined);
  });

  const spans = () => exporter.getFinishedSpans();
  const named = (name: string) => spans().filter((s) => s.name === name);
  const childrenOf = (parent: ReadableSpan) => spans().filter((s) => s.parentSpanContext?.spanId === parent.spanContext().spanId);

  it('an API write is one trace honouring traceparent; its rebuild is a linked root span with validation, publish and the ACK under it', async () => {
    const traceId = hex(16);
    const callerSpan = hex(8);
    exporter.reset();
    const r = await app.http('PATCH', '/api/v1/services/echo', { spec: { connectTimeoutMs: 1500 } }, { traceparent: `00-${traceId}-${callerSpan}-01` });
    assert.equal(r.status, 200, r.text);
    const head = (await app.http('GET', '/api/v1/changes?since=0&limit=1')).body.revision;

    // 1. The request: a server span named by the route template, in the caller's trace.
    const http = await waitFor('the HTTP span', () => spans().find((s) => s.kind === SpanKind.SERVER && s.name.startsWith('PATCH ')));
    assert.equal(http.name, 'PATCH /api/v1/services/:name');
    assert.equal(http.attributes['http.route'], '/api/v1/services/:name');
    assert.equal(http.attributes['http.response.status_code'], 200);
    assert.equal(http.spanContext().traceId, traceId, 'the incoming traceparent was not honoured');
    assert.equal(http.parentSpanContext?.spanId, callerSpan);

    // 2. The transaction: the request's child.
    const tx = named('registry.transaction').find((s) => s.parentSpanContext?.spanId === http.spanContext().spanId);
    assert.ok(tx, `no transaction span under the request: ${spans().map((s) => `${s.name}<${s.parentSpanContext?.spanId}`).join(', ')}`);
    assert.equal(tx.spanContext().traceId, traceId);
    assert.equal(tx.attributes['db.system.name'], 'postgresql');
    assert.equal(tx.attributes['switchyard.registry.revision'], head);

    // 3. The rebuild: a new root, linked to the transaction.
    const rebuild = await waitFor('the rebuild span', () => named('xds.rebuild').find((s) => s.links.some((l) => sameContext(l.context, tx.spanContext()))));
    assert.equal(rebuild.parentSpanContext, undefined, 'the rebuild is a child of something');
    assert.notEqual(rebuild.spanContext().traceId, traceId, 'the rebuild joined the request trace');

    // 4 and 5. Validation and publish under the rebuild; the publish carries the snapshot version and the push.
    const children = childrenOf(rebuild);
    const validate = children.find((s) => s.name === 'xds.validate');
    const publish = children.find((s) => s.name === 'xds.publish');
    assert.ok(validate && publish, `rebuild children: ${children.map((s) => s.name).join(', ')}`);
    assert.ok(validate.endTime[0] * 1e9 + validate.endTime[1] <= publish.startTime[0] * 1e9 + publish.startTime[1], 'validation must finish before the publish');
    assert.equal(publish.attributes['switchyard.xds.snapshot_version'], String(head));
    const push = publish.events.find((e) => e.name === 'push' && e.attributes?.['xds.proxy'] === 'trace-probe' && e.attributes?.['xds.type'] === TYPE.cluster);
    assert.ok(push, `no push event for the probe: ${JSON.stringify(publish.events)}`);

    // The proxy gets that push; its ACK becomes a span under the publish, matched by nonce and version.
    const cds = await ads.next();
    assert.equal(push.attributes?.['xds.nonce'], cds.nonce);
    assert.equal(push.attributes?.['xds.version'], cds.version_info);
    ads.send({ type_url: TYPE.cluster, version_info: cds.version_info, response_nonce: cds.nonce });
    const acked = await waitFor('the ACK span', () => named('xds.push').find((s) => s.attributes['xds.nonce'] === cds.nonce));
    assert.equal(acked.parentSpanContext?.spanId, publish.spanContext().spanId);
    assert.equal(acked.spanContext().traceId, rebuild.spanContext().traceId);
    const ack = acked.events.find((e) => e.name === 'ack');
    assert.equal(ack?.attributes?.['xds.version'], cds.version_info);
  });

  it('a rebuild folding several writes links to every one of their transactions', async () => {
    exporter.reset();
    // The first write of a burst goes out at once (leading edge); the ones after it fold into the trailing rebuild.
    const ids = [hex(16), hex(16), hex(16)];
    assert.equal((await app.http('PATCH', '/api/v1/services/echo', { spec: { connectTimeoutMs: 1700 } }, { traceparent: `00-${ids[0]}-${hex(8)}-01` })).status, 200);
    assert.equal((await app.http('PATCH', '/api/v1/listeners/edge', { spec: { port: 10001 } }, { traceparent: `00-${ids[1]}-${hex(8)}-01` })).status, 200);
    assert.equal((await app.http('PATCH', '/api/v1/services/echo', { spec: { connectTimeoutMs: 1800 } }, { traceparent: `00-${ids[2]}-${hex(8)}-01` })).status, 200);
    const txs = await waitFor('the transaction spans', () => {
      const found = ids.map((id) => named('registry.transaction').find((s) => s.spanContext().traceId === id));
      return found.every(Boolean) ? (found as ReadableSpan[]) : undefined;
    });
    const linked = (s: ReadableSpan) => txs.filter((tx) => s.links.some((l) => sameContext(l.context, tx.spanContext()))).length;
    const rebuild = await waitFor('a rebuild linked to two writes', () => named('xds.rebuild').find((s) => linked(s) >= 2));
    // Each write is linked from exactly one rebuild.
    assert.equal(named('xds.rebuild').reduce((n, s) => n + linked(s), 0), txs.length);
    assert.ok(Number(rebuild.attributes['switchyard.xds.coalesced']) >= 2);
    assert.deepEqual(childrenOf(rebuild).map((s) => s.name).filter((n) => n === 'xds.validate' || n === 'xds.publish').sort(), ['xds.publish', 'xds.validate']);
  });

  it('a request without traceparent starts its own trace; unmatched routes keep the bare method', async () => {
    exporter.reset();
    assert.equal((await app.http('GET', '/api/v1/services/echo')).status, 200);
    assert.equal((await app.http('GET', '/no/such/route')).status, 404);
    const get = await waitFor('the GET span', () => spans().find((s) => s.name === 'GET /api/v1/services/:name'));
    assert.equal(get.parentSpanContext, undefined);
    const unmatched = await waitFor('the unmatched span', () => spans().find((s) => s.kind === SpanKind.SERVER && s.attributes['url.path'] === '/no/such/route'));
    assert.equal(unmatched.name, 'GET');
    assert.equal(unmatched.attributes['http.response.status_code'], 404);
  });
});
