import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from '../support/app.js';
import { echoRoute, echoService } from '../support/fixtures.js';

const svc = echoService();
const route = echoRoute();
const policy = (spec: Record<string, unknown>) => ({ name: 'p', spec });
const rollout = (spec: Record<string, unknown>) => ({ name: 'ro', spec: { service: 'echo', stable: 'v1', canary: 'v2', steps: [{ setWeight: 10 }], ...spec } });

/** [what, path, body, field, message pattern] */
const CASES: [string, string, unknown, string, RegExp][] = [
  ['unknown top-level field', '/api/v1/services', { ...svc, colour: 'red' }, 'colour', /unknown field/],
  ['unknown spec field', '/api/v1/services', { ...svc, spec: { ...svc.spec, colour: 1 } }, 'spec.colour', /unknown field/],
  ['unknown nested field', '/api/v1/services', { ...svc, spec: { ...svc.spec, subsets: [{ name: 'v1', labels: { a: 'b' }, x: 1 }] } }, 'spec.subsets[0].x', /unknown field/],
  ['name not a DNS label', '/api/v1/services', { ...svc, name: 'Echo_1' }, 'name', /DNS-1123/],
  ['name too long', '/api/v1/services', { ...svc, name: 'a'.repeat(64) }, 'name', /at most 63/],
  ['missing name', '/api/v1/services', { spec: svc.spec }, 'name', /required/],
  ['wrong kind', '/api/v1/services', { ...svc, kind: 'Route' }, 'kind', /must be Service/],
  ['missing spec', '/api/v1/services', { name: 'echo' }, 'spec', /required/],
  ['bad protocol', '/api/v1/services', { ...svc, spec: { ...svc.spec, protocol: 'udp' } }, 'spec.protocol', /one of: http, grpc, tcp/],
  ['port too big', '/api/v1/services', { ...svc, spec: { ...svc.spec, port: 65536 } }, 'spec.port', /<= 65535/],
  ['port not integer', '/api/v1/services', { ...svc, spec: { ...svc.spec, port: 1.5 } }, 'spec.port', /integer/],
  ['port as string', '/api/v1/services', { ...svc, spec: { ...svc.spec, port: '80' } }, 'spec.port', /integer/],
  ['bad label key', '/api/v1/services', { ...svc, labels: { 'bad key': 'x' } }, 'labels', /not a valid label key/],
  ['label value not string', '/api/v1/services', { ...svc, labels: { a: 1 } }, 'labels', /must be a string/],
  ['duplicate subset', '/api/v1/services', { ...svc, spec: { ...svc.spec, subsets: [{ name: 'v1', labels: { a: 'b' } }, { name: 'v1', labels: { a: 'c' } }] } }, 'spec.subsets[1].name', /duplicate/],
  ['empty subset selector', '/api/v1/services', { ...svc, spec: { ...svc.spec, subsets: [{ name: 'v1', labels: {} }] } }, 'spec.subsets[0].labels', /at least one label/],
  ['subsets not array', '/api/v1/services', { ...svc, spec: { ...svc.spec, subsets: 'v1' } }, 'spec.subsets', /array/],
  ['negative weight', '/api/v1/routes', { ...route, spec: { ...route.spec, rules: [route.spec.rules[0], { backends: [{ service: 'echo', weight: -1 }] }] } }, 'spec.rules[1].backends[0].weight', /must be >= 0/],
  ['zero total weight', '/api/v1/routes', { ...route, spec: { ...route.spec, rules: [{ backends: [{ service: 'echo', weight: 0 }] }] } }, 'spec.rules[0].backends', /more than 0/],
  ['no backends', '/api/v1/routes', { ...route, spec: { ...route.spec, rules: [{ backends: [] }] } }, 'spec.rules[0].backends', /at least 1/],
  ['no rules', '/api/v1/routes', { ...route, spec: { hosts: ['echo'], rules: [] } }, 'spec.rules', /at least 1/],
  ['no hosts', '/api/v1/routes', { ...route, spec: { ...route.spec, hosts: [] } }, 'spec.hosts', /at least 1/],
  ['bad host', '/api/v1/routes', { ...route, spec: { ...route.spec, hosts: ['Bad Host'] } }, 'spec.hosts', /host name/],
  ['two path matchers', '/api/v1/routes', { ...route, spec: { ...route.spec, rules: [{ match: { pathPrefix: '/', path: '/x' }, backends: [{ service: 'echo', weight: 1 }] }] } }, 'spec.rules[0].match', /only one of/],
  ['path without slash', '/api/v1/routes', { ...route, spec: { ...route.spec, rules: [{ match: { pathPrefix: 'x' }, backends: [{ service: 'echo', weight: 1 }] }] } }, 'spec.rules[0].match.pathPrefix', /start with \//],
  ['bad regex', '/api/v1/routes', { ...route, spec: { ...route.spec, rules: [{ match: { regex: '([a-z' }, backends: [{ service: 'echo', weight: 1 }] }] } }, 'spec.rules[0].match.regex', /invalid regular expression/],
  ['lookahead regex', '/api/v1/routes', { ...route, spec: { ...route.spec, rules: [{ match: { regex: '/(?=x)' }, backends: [{ service: 'echo', weight: 1 }] }] } }, 'spec.rules[0].match.regex', /RE2/],
  ['header with two matchers', '/api/v1/routes', { ...route, spec: { ...route.spec, rules: [{ match: { headers: [{ name: 'x', exact: 'a', prefix: 'b' }] }, backends: [{ service: 'echo', weight: 1 }] }] } }, 'spec.rules[0].match.headers[0]', /exactly one/],
  ['header with no matcher', '/api/v1/routes', { ...route, spec: { ...route.spec, rules: [{ match: { headers: [{ name: 'x' }] }, backends: [{ service: 'echo', weight: 1 }] }] } }, 'spec.rules[0].match.headers[0]', /exactly one/],
  ['bad header name', '/api/v1/routes', { ...route, spec: { ...route.spec, rules: [{ match: { headers: [{ name: 'x y', present: true }] }, backends: [{ service: 'echo', weight: 1 }] }] } }, 'spec.rules[0].match.headers[0].name', /header name/],
  ['duplicate backend', '/api/v1/routes', { ...route, spec: { ...route.spec, rules: [{ backends: [{ service: 'echo', weight: 1 }, { service: 'echo', weight: 2 }] }] } }, 'spec.rules[0].backends[1]', /duplicate/],
  ['retry backoff inverted', '/api/v1/routes', { ...route, spec: { ...route.spec, rules: [{ backends: [{ service: 'echo', weight: 1 }], retry: { attempts: 2, backoff: { baseMs: 100, maxMs: 10 } } }] } }, 'spec.rules[0].retry.backoff.maxMs', />= backoff.baseMs/],
  ['retry on unknown', '/api/v1/routes', { ...route, spec: { ...route.spec, rules: [{ backends: [{ service: 'echo', weight: 1 }], retry: { attempts: 2, on: ['sometimes'] } }] } }, 'spec.rules[0].retry.on', /one of/],
  ['timeout zero', '/api/v1/routes', { ...route, spec: { ...route.spec, rules: [{ backends: [{ service: 'echo', weight: 1 }], timeoutMs: 0 }] } }, 'spec.rules[0].timeoutMs', /must be >= 1/],
  ['listener bad address', '/api/v1/listeners', { name: 'l', spec: { group: 'g', address: 'localhost', port: 1, protocol: 'http', routes: [] } }, 'spec.address', /IPv4 or IPv6/],
  ['listener duplicate routes', '/api/v1/listeners', { name: 'l', spec: { group: 'g', address: '::', port: 1, protocol: 'http', routes: ['a', 'a'] } }, 'spec.routes[1]', /duplicate/],
  ['listener empty group', '/api/v1/listeners', { name: 'l', spec: { group: '', address: '::', port: 1, protocol: 'http', routes: [] } }, 'spec.group', /must not be empty/],
  ['endpoint bad address', '/api/v1/services/echo/endpoints', { spec: { address: 'example.com', port: 1 } }, 'spec.address', /IPv4 or IPv6/],
  ['endpoint bad health', '/api/v1/services/echo/endpoints', { spec: { address: '10.0.0.1', port: 1, health: 'sick' } }, 'spec.health', /one of: unknown, healthy, unhealthy, draining/],
  ['endpoint ttl zero', '/api/v1/services/echo/endpoints', { spec: { address: '10.0.0.1', port: 1, ttlSeconds: 0 } }, 'spec.ttlSeconds', />= 1/],
  ['endpoint service mismatch', '/api/v1/services/echo/endpoints', { service: 'other', spec: { address: '10.0.0.1', port: 1 } }, 'service', /must match the service in the URL/],
  ['endpoint locality field', '/api/v1/services/echo/endpoints', { spec: { address: '10.0.0.1', port: 1, locality: { planet: 'mars' } } }, 'spec.locality.planet', /unknown field/],
  ['policy unknown type', '/api/v1/policies', policy({ type: 'magic' }), 'spec.type', /one of/],
  ['policy settings missing', '/api/v1/policies', policy({ type: 'retry' }), 'spec.retry', /required when type is retry/],
  ['policy settings of other type', '/api/v1/policies', policy({ type: 'retry', retry: { attempts: 1 }, timeout: { requestMs: 5 } }), 'spec.timeout', /only allowed when type is timeout/],
  ['retry attempts too many', '/api/v1/policies', policy({ type: 'retry', retry: { attempts: 11 } }), 'spec.retry.attempts', /<= 10/],
  ['timeout policy empty', '/api/v1/policies', policy({ type: 'timeout', timeout: {} }), 'spec.timeout', /at least one/],
  ['circuit breaker empty', '/api/v1/policies', policy({ type: 'circuitBreaker', circuitBreaker: {} }), 'spec.circuitBreaker', /at least one/],
  ['outlier percent', '/api/v1/policies', policy({ type: 'outlierDetection', outlierDetection: { maxEjectionPercent: 101 } }), 'spec.outlierDetection.maxEjectionPercent', /<= 100/],
  ['rate limit unit', '/api/v1/policies', policy({ type: 'rateLimit', rateLimit: { requests: 10, unit: 'day' } }), 'spec.rateLimit.unit', /one of/],
  ['rate limit burst', '/api/v1/policies', policy({ type: 'rateLimit', rateLimit: { requests: 10, unit: 'second', burst: 5 } }), 'spec.rateLimit.burst', />= requests/],
  ['health check timeout > interval', '/api/v1/policies', policy({ type: 'healthCheck', healthCheck: { protocol: 'http', intervalMs: 1000, timeoutMs: 2000 } }), 'spec.healthCheck.timeoutMs', /<= intervalMs/],
  ['health check http field on tcp', '/api/v1/policies', policy({ type: 'healthCheck', healthCheck: { protocol: 'tcp', intervalMs: 1000, timeoutMs: 200, path: '/x' } }), 'spec.healthCheck.path', /only applies to protocol http/],
  ['health check host with CR LF', '/api/v1/policies', policy({ type: 'healthCheck', healthCheck: { protocol: 'http', intervalMs: 1000, timeoutMs: 200, host: 'a\r\nx-injected: 1' } }), 'spec.healthCheck.host', /NUL, CR or LF/],
  ['health check path with NUL', '/api/v1/policies', policy({ type: 'healthCheck', healthCheck: { protocol: 'http', intervalMs: 1000, timeoutMs: 200, path: '/x\u0000' } }), 'spec.healthCheck.path', /NUL, CR or LF/],
  ['health check runBy', '/api/v1/policies', policy({ type: 'healthCheck', healthCheck: { protocol: 'grpc', intervalMs: 1000, timeoutMs: 200, runBy: 'nobody' } }), 'spec.healthCheck.runBy', /one of/],
  ['status range inverted', '/api/v1/policies', policy({ type: 'healthCheck', healthCheck: { protocol: 'http', intervalMs: 1000, timeoutMs: 200, expectedStatuses: [{ start: 300, end: 200 }] } }), 'spec.healthCheck.expectedStatuses[0].end', /> start/],
  ['lb option for other algorithm', '/api/v1/policies', policy({ type: 'loadBalancer', loadBalancer: { algorithm: 'roundRobin', hashHeader: 'x' } }), 'spec.loadBalancer.hashHeader', /only applies/],
  ['lb hashOn two ways', '/api/v1/policies', policy({ type: 'loadBalancer', loadBalancer: { algorithm: 'ringHash', hashOn: { header: 'x-u', sourceIp: true } } }), 'spec.loadBalancer.hashOn', /exactly one of header, cookie, sourceIp/],
  ['lb ring sizes inverted', '/api/v1/policies', policy({ type: 'loadBalancer', loadBalancer: { algorithm: 'ringHash', ringSize: { min: 4096, max: 1024 } } }), 'spec.loadBalancer.ringSize.max', />= ringSize.min/],
  ['lb ring too large', '/api/v1/policies', policy({ type: 'loadBalancer', loadBalancer: { algorithm: 'ringHash', ringSize: { max: 8388609 } } }), 'spec.loadBalancer.ringSize.max', /<= 8388608/],
  ['maglev table not prime', '/api/v1/policies', policy({ type: 'loadBalancer', loadBalancer: { algorithm: 'maglev', tableSize: 1000 } }), 'spec.loadBalancer.tableSize', /prime/],
  ['slow start on ring hash', '/api/v1/policies', policy({ type: 'loadBalancer', loadBalancer: { algorithm: 'ringHash', slowStartWindowMs: 1000 } }), 'spec.loadBalancer.slowStartWindowMs', /only applies/],
  ['breaker budget > 100', '/api/v1/policies', policy({ type: 'circuitBreaker', circuitBreaker: { retryBudget: { budgetPercent: 150 } } }), 'spec.circuitBreaker.retryBudget.budgetPercent', /<= 100/],
  ['breaker empty high', '/api/v1/policies', policy({ type: 'circuitBreaker', circuitBreaker: { maxRequests: 1, high: {} } }), 'spec.circuitBreaker.high', /at least one threshold/],
  ['outlier max ejection < base', '/api/v1/policies', policy({ type: 'outlierDetection', outlierDetection: { baseEjectionTimeMs: 5000, maxEjectionTimeMs: 1000 } }), 'spec.outlierDetection.maxEjectionTimeMs', />= baseEjectionTimeMs/],
  ['outlier stdev not a number', '/api/v1/policies', policy({ type: 'outlierDetection', outlierDetection: { successRate: { stdevFactor: 'wide' } } }), 'spec.outlierDetection.successRate.stdevFactor', /must be a number/],
  ['retry status codes without the condition', '/api/v1/policies', policy({ type: 'retry', retry: { attempts: 1, retriableStatusCodes: [503] } }), 'spec.retry.retriableStatusCodes', /needs retriable-status-codes/],
  ['retry status code out of range', '/api/v1/policies', policy({ type: 'retry', retry: { attempts: 1, on: ['retriable-status-codes'], retriableStatusCodes: [99] } }), 'spec.retry.retriableStatusCodes', />= 100/],
  ['fault with nothing to inject', '/api/v1/policies', policy({ type: 'faultInjection', faultInjection: {} }), 'spec.faultInjection', /delay or abort/],
  ['fault abort with two statuses', '/api/v1/policies', policy({ type: 'faultInjection', faultInjection: { abort: { httpStatus: 503, grpcStatus: 'UNAVAILABLE', percent: 5 } } }), 'spec.faultInjection.abort', /exactly one of httpStatus, grpcStatus/],
  ['fault abort unknown code', '/api/v1/policies', policy({ type: 'faultInjection', faultInjection: { abort: { grpcStatus: 'OOPS', percent: 5 } } }), 'spec.faultInjection.abort.grpcStatus', /one of/],
  ['fault percent over 100', '/api/v1/policies', policy({ type: 'faultInjection', faultInjection: { delay: { fixedMs: 10, percent: 101 } } }), 'spec.faultInjection.delay.percent', /<= 100/],
  ['fault percent too precise', '/api/v1/policies', policy({ type: 'faultInjection', faultInjection: { delay: { fixedMs: 10, percent: 0.00001 } } }), 'spec.faultInjection.delay.percent', /at most 4 decimals/],
  ['tracing without a collector', '/api/v1/policies', policy({ type: 'tracing', tracing: { samplingPercent: 10 } }), 'spec.tracing.collector', /required/],
  ['tracing collector not a name', '/api/v1/policies', policy({ type: 'tracing', tracing: { collector: { service: 'Otel Collector' } } }), 'spec.tracing.collector.service', /DNS-1123/],
  ['tracing sampling over 100', '/api/v1/policies', policy({ type: 'tracing', tracing: { collector: { service: 'otel' }, samplingPercent: 150 } }), 'spec.tracing.samplingPercent', /<= 100/],
  ['tracing tag literal and header', '/api/v1/policies', policy({ type: 'tracing', tracing: { collector: { service: 'otel' }, tags: [{ tag: 't', literal: 'a', header: 'x-a' }] } }), 'spec.tracing.tags[0]', /exactly one of literal, header/],
  ['tracing tag bad header', '/api/v1/policies', policy({ type: 'tracing', tracing: { collector: { service: 'otel' }, tags: [{ tag: 't', header: 'x a' }] } }), 'spec.tracing.tags[0].header', /header name/],
  ['tracing duplicate tag', '/api/v1/policies', policy({ type: 'tracing', tracing: { collector: { service: 'otel' }, tags: [{ tag: 't', literal: 'a' }, { tag: 't', literal: 'b' }] } }), 'spec.tracing.tags[1].tag', /duplicate/],
  ['tracing unknown field', '/api/v1/policies', policy({ type: 'tracing', tracing: { collector: { service: 'otel', port: 4317 } } }), 'spec.tracing.collector.port', /unknown field/],
  ['access log file without path', '/api/v1/policies', policy({ type: 'accessLog', accessLog: { sink: 'file' } }), 'spec.accessLog.path', /required for sink file/],
  ['access log path on stdout', '/api/v1/policies', policy({ type: 'accessLog', accessLog: { path: '/tmp/x' } }), 'spec.accessLog.path', /only to sink file/],
  ['access log unknown sink', '/api/v1/policies', policy({ type: 'accessLog', accessLog: { sink: 'syslog' } }), 'spec.accessLog.sink', /one of: stdout, file/],
  ['access log fields on text', '/api/v1/policies', policy({ type: 'accessLog', accessLog: { format: 'text', fields: { code: '%RESPONSE_CODE%' } } }), 'spec.accessLog.fields', /only to format json/],
  ['access log field not a string', '/api/v1/policies', policy({ type: 'accessLog', accessLog: { fields: { code: 200 } } }), 'spec.accessLog.fields.code', /must be a string/],
  ['access log min status', '/api/v1/policies', policy({ type: 'accessLog', accessLog: { minStatus: 600 } }), 'spec.accessLog.minStatus', /<= 599/],
  ['listener duplicate policies', '/api/v1/listeners', { name: 'l', spec: { group: 'g', address: '::', port: 1, protocol: 'http', routes: [], policies: ['p', 'p'] } }, 'spec.policies[1]', /duplicate/],
  ['rollout canary = stable', '/api/v1/rollouts', rollout({ canary: 'v1' }), 'spec.canary', /must differ from stable/],
  ['rollout step with two actions', '/api/v1/rollouts', rollout({ steps: [{ setWeight: 10, pause: {} }] }), 'spec.steps[0]', /exactly one of setWeight, setHeaderRoute, pause/],
  ['rollout weight > 100', '/api/v1/rollouts', rollout({ steps: [{ setWeight: 101 }] }), 'spec.steps[0].setWeight', /<= 100/],
  ['rollout header step without a match', '/api/v1/rollouts', rollout({ steps: [{ setHeaderRoute: { name: 'x-c' } }] }), 'spec.steps[0].setHeaderRoute', /exactly one of exact/],
  ['rollout successRate without min', '/api/v1/rollouts', rollout({ analysis: { intervalSeconds: 5, failureLimit: 1, minRequests: 1, metrics: [{ name: 'successRate' }] } }), 'spec.analysis.metrics[0].min', /required for successRate/],
  ['rollout custom metric without query', '/api/v1/rollouts', rollout({ analysis: { intervalSeconds: 5, failureLimit: 1, minRequests: 1, metrics: [{ name: 'errors', max: 1 }] } }), 'spec.analysis.metrics[0].query', /is required/],
  ['rollout webhook not a URL', '/api/v1/rollouts', rollout({ webhooks: { preRollout: { url: 'ftp://x' } } }), 'spec.webhooks.preRollout.url', /http\(s\) URL/],
  ['rollout unknown subset', '/api/v1/rollouts', rollout({ canary: 'v9' }), 'spec.canary', /has no subset v9/],
  ['rollout unknown service', '/api/v1/rollouts', rollout({ service: 'nope' }), 'spec.service', /does not exist/],
  ['rollout with no route to the stable subset', '/api/v1/rollouts', rollout({}), 'spec.routes', /no Route sends to Service echo subset v1/],
  ['body is an array', '/api/v1/services', [svc], '(body)', /object/],
  // PostgreSQL text and jsonb cannot hold NUL: it was a 500 (SQLSTATE 22P05) from the insert.
  ['NUL in a spec string', '/api/v1/routes', { ...route, spec: { ...route.spec, rules: [{ match: { headers: [{ name: 'x', exact: 'a\u0000b' }] }, backends: [{ service: 'echo', weight: 1 }] }] } }, 'spec.rules[0].match.headers[0].exact', /NUL/],
  ['NUL in config content', '/api/v1/configs', { namespace: 'default', group: 'g', name: 'nul', spec: { format: 'text', content: 'a\u0000b' } }, 'spec.content', /NUL/],
  // A lone surrogate is no Unicode: jsonb refused it (22P02), a 500.
  ['lone surrogate in config content', '/api/v1/configs', { namespace: 'default', group: 'g', name: 'sur', spec: { format: 'text', content: 'a\ud800b' } }, 'spec.content', /lone surrogate/],
  ['array of too many items', '/api/v1/services', { ...svc, spec: { ...svc.spec, subsets: Array.from({ length: 10_001 }, () => ({})) } }, 'spec.subsets', /at most 10000/],
  ['object of too many keys', '/api/v1/services', { ...svc, spec: { ...svc.spec, ...Object.fromEntries(Array.from({ length: 1001 }, (_, i) => [`k${i}`, i])) } }, 'spec', /at most 1000/],
];

describe('validation: every bad input is a 400 naming the field, and nothing is written', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp('pglite');
    assert.equal((await app.http('POST', '/api/v1/services', svc)).status, 201);
  });
  after(async () => {
    await app?.stop();
  });

  for (const [what, path, body, field, message] of CASES) {
    it(what, async () => {
      const res = await app.http('POST', path, body);
      assert.equal(res.status, 400, `${what}: ${res.text}`);
      const v = res.body.violations.find((x: { field: string }) => x.field === field);
      assert.ok(v, `${what}: expected a violation on ${field}, got ${JSON.stringify(res.body.violations)}`);
      assert.match(v.message, message);
    });
  }

  it('wrote nothing for any of them', async () => {
    const changes = await app.http('GET', '/api/v1/changes?since=0');
    assert.equal(changes.body.changes.length, 1, 'only the fixture service was created');
  });

  it('refuses two policies of one type on one target with 400 naming both, in one request or across requests', async () => {
    const retry = (name: string, attempts: number) => ({ kind: 'Policy', name, spec: { type: 'retry', retry: { attempts } } });
    const both = await app.http('POST', '/api/v1/apply', [retry('r-one', 1), retry('r-two', 2), { ...svc, spec: { ...svc.spec, policies: ['r-one', 'r-two'] } }]);
    assert.equal(both.status, 400, both.text);
    const v = both.body.violations.find((x: { field: string }) => x.field === 'resources[2].spec.policies[1]');
    assert.ok(v, JSON.stringify(both.body.violations));
    assert.match(v.message, /Policy r-two and Policy r-one \(resources\[2\]\.spec\.policies\[0\]\) are both retry policies/);
    const before = (await app.http('GET', '/api/v1/changes?since=0&limit=1')).body.revision;
    assert.equal((await app.http('POST', '/api/v1/apply', [retry('r-one', 1), retry('r-two', 2)])).status, 200);
    const patch = await app.http('PATCH', '/api/v1/services/echo', { spec: { policies: ['r-one', 'r-two'] } });
    assert.equal(patch.status, 400, patch.text);
    assert.match(patch.body.violations[0].message, /both retry policies/);
    assert.equal((await app.http('GET', '/api/v1/changes?since=0&limit=1')).body.revision, before + 2, 'the refused write changed nothing');
  });

  it('attaches tracing and accessLog policies to Listeners and Routes only', async () => {
    const tracing = { kind: 'Policy', name: 'traces', spec: { type: 'tracing', tracing: { collector: { service: 'echo' } } } };
    const toService = await app.http('POST', '/api/v1/apply', [tracing, { ...svc, spec: { ...svc.spec, policies: ['traces'] } }]);
    assert.equal(toService.status, 400, toService.text);
    const v = toService.body.violations.find((x: { field: string }) => x.field === 'resources[1].spec.policies[0]');
    assert.match(v?.message ?? '', /type tracing, which cannot be attached to a Service/, JSON.stringify(toService.body.violations));
    const listener = { kind: 'Listener', name: 'edge', spec: { group: 'default', address: '0.0.0.0', port: 10000, protocol: 'http', routes: [], policies: ['traces', 'nowhere'] } };
    const missing = await app.http('POST', '/api/v1/apply', [tracing, listener]);
    assert.equal(missing.status, 400, missing.text);
    assert.ok(missing.body.violations.some((x: { field: string; message: string }) => x.field === 'resources[1].spec.policies[1]' && /Policy nowhere does not exist/.test(x.message)), JSON.stringify(missing.body.violations));
    const logs = { kind: 'Policy', name: 'logs', spec: { type: 'accessLog', accessLog: {} } };
    const ok = await app.http('POST', '/api/v1/apply', [tracing, logs, { ...listener, spec: { ...listener.spec, policies: ['traces', 'logs'] } }]);
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual((await app.http('GET', '/api/v1/listeners/edge')).body.spec.policies, ['traces', 'logs']);
    // A Listener's policies are references like a Service's: refused while referenced, or removed from it by a cascade.
    const referenced = await app.http('DELETE', '/api/v1/policies/logs');
    assert.equal(referenced.status, 409, referenced.text);
    assert.deepEqual(referenced.body.referrers.map((r: { kind: string; name: string }) => `${r.kind}/${r.name}`), ['Listener/edge']);
    assert.equal((await app.http('DELETE', '/api/v1/policies/logs?cascade=true')).status, 200);
    assert.deepEqual((await app.http('GET', '/api/v1/listeners/edge')).body.spec.policies, ['traces']);
  });

  it('reports every bad field at once', async () => {
    const res = await app.http('POST', '/api/v1/services', { name: 'X', spec: { protocol: 'udp', port: 0 } });
    assert.deepEqual(res.body.violations.map((v: { field: string }) => v.field).sort(), ['name', 'spec.port', 'spec.protocol']);
  });

  it('accepts a GET result sent back unchanged (server-owned fields ignored)', async () => {
    const got = await app.http('GET', '/api/v1/services/echo');
    const put = await app.http('PUT', '/api/v1/services/echo', got.body);
    assert.equal(put.status, 200, put.text);
    assert.equal(put.body.version, got.body.version);
  });

  it('stores map keys named like Object.prototype members faithfully (labels, accessLog fields), over JSON, YAML and PATCH; __proto__ pollutes nothing', async () => {
    const keys = ['constructor', 'toString', 'valueOf', 'hasOwnProperty', 'prototype'];
    const labels = Object.fromEntries(keys.map((k) => [k, 'x']));
    const created = await app.http('POST', '/api/v1/services', { ...svc, name: 'proto-keys', labels });
    assert.equal(created.status, 201, created.text);
    assert.deepEqual(created.body.labels, labels);
    assert.deepEqual((await app.http('GET', '/api/v1/services/proto-keys')).body.labels, labels);
    const patched = await app.http('PATCH', '/api/v1/services/proto-keys', { labels: { constructor: 'y', toString: null } }, { 'content-type': 'application/merge-patch+json' });
    assert.equal(patched.status, 200, patched.text);
    const { toString: _, ...rest } = labels;
    assert.deepEqual(patched.body.labels, { ...rest, constructor: 'y' });
    // JSON.parse makes `__proto__` an own key; it must stay one (and the raw text is needed to send it).
    const fields = '{"__proto__":"%PROTOCOL%","constructor":"%RESPONSE_CODE%","valueOf":"%DURATION%"}';
    const logs = await app.http('POST', '/api/v1/policies', `{"name":"proto-fields","spec":{"type":"accessLog","accessLog":{"fields":${fields}}}}`);
    assert.equal(logs.status, 201, logs.text);
    assert.equal(JSON.stringify((await app.http('GET', '/api/v1/policies/proto-fields')).body.spec.accessLog.fields), fields);
    const yaml = 'kind: Policy\nname: proto-yaml\nspec:\n  type: accessLog\n  accessLog:\n    fields: {__proto__: "%PROTOCOL%", toString: "%RESPONSE_CODE%"}\n';
    assert.equal((await app.http('POST', '/api/v1/apply', yaml, { 'content-type': 'application/yaml' })).status, 200);
    assert.deepEqual(Object.keys((await app.http('GET', '/api/v1/policies/proto-yaml')).body.spec.accessLog.fields), ['__proto__', 'toString']);
    assert.equal(({} as Record<string, unknown>).constructor, Object, 'no prototype was polluted');
    // Outside a free-form map such a key is an unknown field, like any other; a __proto__ label is no valid label key.
    for (const [body, field, message] of [
      [`{"name":"p2","spec":{"protocol":"http","port":80,"constructor":"x"}}`, 'spec.constructor', /unknown field/],
      [`{"name":"p2","spec":{"protocol":"http","port":80,"extra":{"constructor":"x"}}}`, 'spec.extra', /unknown field/],
      [`{"name":"p2","labels":{"__proto__":"x"},"spec":{"protocol":"http","port":80}}`, 'labels', /not a valid label key/],
    ] as const) {
      const res = await app.http('POST', '/api/v1/services', body);
      assert.equal(res.status, 400, res.text);
      assert.ok(res.body.violations.some((v: { field: string; message: string }) => v.field === field && message.test(v.message)), res.text);
    }
  });

  it('refuses a body nested deeper than the schema could be with 400, not a stack overflow', async () => {
    const deep = `{"name":"deep","spec":{"protocol":"http","port":80,"x":${'['.repeat(100000)}${']'.repeat(100000)}}}`;
    const res = await app.http('POST', '/api/v1/services', deep);
    assert.equal(res.status, 400, res.text.slice(0, 300));
    assert.match(res.body.violations[0].message, /nests deeper than/);
  });

  it('refuses a heartbeat body that is not an object with 400 at once (a 200,000-item array blocked the event loop for a minute)', async () => {
    const start = performance.now();
    const res = await app.http('PUT', '/api/v1/services/echo/endpoints/hb-array/heartbeat', JSON.stringify(Array.from({ length: 200_000 }, () => 0)));
    const ms = performance.now() - start;
    assert.equal(res.status, 400, res.text.slice(0, 300));
    assert.deepEqual(res.body.violations, [{ field: '(body)', message: 'must be a JSON object (the endpoint to register), or absent' }]);
    // Generous: it catches the quadratic validation (tens of seconds), not a slow machine.
    assert.ok(ms < 10_000, `answered after ${Math.round(ms)} ms`);
    for (const body of ['"x"', '7', 'true']) assert.equal((await app.http('PUT', '/api/v1/services/echo/endpoints/hb-array/heartbeat', body)).status, 400, body);
  });

  it('refuses an object of 100,000 unknown fields with 400 at once, and lists at most 100 problems', async () => {
    const body = { ...svc, ...Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`k${i}`, 0])) };
    const start = performance.now();
    const res = await app.http('POST', '/api/v1/services', body);
    const ms = performance.now() - start;
    assert.equal(res.status, 400, res.text.slice(0, 300));
    assert.deepEqual(res.body.violations, [{ field: '(body)', message: `has ${Object.keys(body).length} fields; at most 1000` }]);
    assert.ok(ms < 10_000, `answered after ${Math.round(ms)} ms`);
    const many = await app.http('POST', '/api/v1/services', { ...svc, ...Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`k${i}`, 0])) });
    assert.equal(many.status, 400);
    assert.equal(many.body.violations.length, 100);
    assert.deepEqual(many.body.violations.at(-1), { field: '(body)', message: 'and 401 more problems' });
  });

  it("answers what Node's HTTP parser refuses (oversized headers, a malformed request line) with the JSON error shape", async () => {
    const big = await app.http('GET', '/api/v1/services', undefined, { 'x-big': 'a'.repeat(20_000) });
    assert.equal(big.status, 431);
    assert.deepEqual(big.body, { statusCode: 431, error: 'Request Header Fields Too Large', message: 'request headers are larger than the limit' });
    assert.match(big.headers.get('content-type') ?? '', /application\/json/);
    // fetch cannot send a malformed request line: write one on a raw socket.
    const raw = await new Promise<string>((resolve, reject) => {
      const sock = connect(new URL(app.base).port ? Number(new URL(app.base).port) : 80, '127.0.0.1', () => sock.write('GET /\u0001 HTTP/1.1\r\nHost: x\r\n\r\n'));
      let got = '';
      sock.on('data', (d) => (got += d));
      sock.on('end', () => resolve(got));
      sock.on('error', reject);
    });
    assert.match(raw, /^HTTP\/1\.1 400 Bad Request\r\n/);
    const body = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4));
    assert.equal(body.statusCode, 400);
    assert.match(body.message, /^malformed HTTP request/);
  });

  it('serves the OpenAPI document generated from the DTOs', async () => {
    const doc = await app.http('GET', '/api/docs-json');
    assert.equal(doc.status, 200);
    assert.ok(doc.body.paths['/api/v1/services/{service}/endpoints']);
    assert.ok(doc.body.components.schemas.RouteSpecDto.properties.rules);
    const ui = await app.http('GET', '/api/docs');
    assert.equal(ui.status, 200);
    assert.match(ui.text, /swagger/i);
  });

  it('a durable endpoint cannot take a heartbeat endpoint\'s name: create and apply answer 409 naming it, write nothing, and the heartbeat endpoint stays the one served (REST fuzz, seed 304)', async () => {
    const hb = await app.http('POST', `/api/v1/services/${svc.name}/endpoints`, { name: 'hb', spec: { address: '10.0.0.9', port: 80, ttlSeconds: 60 } });
    assert.equal(hb.status, 201, JSON.stringify(hb.body));
    const create = await app.http('POST', `/api/v1/services/${svc.name}/endpoints`, { name: 'hb', spec: { address: '10.0.0.10', port: 81 } });
    assert.equal(create.status, 409, JSON.stringify(create.body));
    assert.match((create.body as { message: string }).message, /already exists as a heartbeat endpoint/);
    const other = { kind: 'Endpoint', name: 'durable-ok', service: svc.name, spec: { address: '10.0.0.11', port: 82 } };
    const applied = await app.http('POST', '/api/v1/apply', { resources: [other, { kind: 'Endpoint', name: 'hb', service: svc.name, spec: { address: '10.0.0.10', port: 81 } }] });
    assert.equal(applied.status, 409, JSON.stringify(applied.body));
    assert.match((applied.body as { message: string }).message, /^resources\[1\]: Endpoint echo\/hb already exists as a heartbeat endpoint/);
    assert.equal((await app.http('GET', `/api/v1/services/${svc.name}/endpoints/durable-ok`)).status, 404, 'nothing of the apply was written');
    const got = await app.http('GET', `/api/v1/services/${svc.name}/endpoints/hb`);
    assert.equal(got.status, 200);
    const body = got.body as { spec: { address: string }; status: { ephemeral?: unknown } };
    assert.equal(body.spec.address, '10.0.0.9');
    assert.ok(body.status.ephemeral, 'the heartbeat endpoint, not a durable twin');
  });

  const fields = (body: unknown) => (body as { violations: { field: string }[] }).violations.map((v) => v.field);

  it('refuses spec.ttlSeconds on a durable endpoint (PUT, PATCH, /apply) with 400 at the field, writing nothing: a stored TTL would never be honoured', async () => {
    const ep = { kind: 'Endpoint', name: 'durable-ttl', service: svc.name, spec: { address: '10.0.0.12', port: 83 } };
    const ttl = { ...ep, spec: { ...ep.spec, ttlSeconds: 30 } };
    const applied = await app.http('POST', '/api/v1/apply', { resources: [ep, ttl] });
    assert.equal(applied.status, 400, JSON.stringify(applied.body));
    assert.deepEqual(fields(applied.body), ['resources[1].spec.ttlSeconds']);
    assert.equal((await app.http('GET', `/api/v1/services/${svc.name}/endpoints/durable-ttl`)).status, 404, 'nothing of the apply was written');
    assert.equal((await app.http('POST', '/api/v1/apply', { resources: [ep] })).status, 200);
    const put = await app.http('PUT', `/api/v1/services/${svc.name}/endpoints/durable-ttl`, { spec: ttl.spec });
    assert.equal(put.status, 400, JSON.stringify(put.body));
    assert.deepEqual(fields(put.body), ['spec.ttlSeconds']);
    const patch = await app.http('PATCH', `/api/v1/services/${svc.name}/endpoints/durable-ttl`, { spec: { ttlSeconds: 30 } });
    assert.equal(patch.status, 400, JSON.stringify(patch.body));
    assert.deepEqual(fields(patch.body), ['spec.ttlSeconds']);
    const got = await app.http('GET', `/api/v1/services/${svc.name}/endpoints/durable-ttl`);
    assert.equal((got.body as { version: number; spec: { ttlSeconds?: number } }).spec.ttlSeconds, undefined);
    assert.equal((got.body as { version: number }).version, 1, 'neither write changed it');
  });
});
