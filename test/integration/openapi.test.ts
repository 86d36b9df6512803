import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import { TYPE } from '../../src/translate/envoy-types.js';
import { AdsTestClient, envoyNode } from '../support/ads-client.js';
import { request, startTestApp, type HttpResult, type TestApp } from '../support/app.js';
import { echoEndpoint, echoRoute, echoService, edgeListener, retryPolicy } from '../support/fixtures.js';

/*
 * The OpenAPI document is complete enough to generate a client from: every
 * route Express serves is in it, every operation says what it answers (with a
 * schema) and how it fails (with the shared error schema), the write headers
 * and request bodies are there, and what the server really sends matches it.
 */

type Json = any;
type Op = { method: string; path: string; op: Json };

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head'];
const ERROR_REF = '#/components/schemas/ErrorBodyDto';
/** Operations that answer from memory (no database): they need not document 503. */
const IN_MEMORY = new Set([
  'GET /api/v1/version',
  'GET /api/v1/proxies',
  'GET /api/v1/proxies/{id}/config',
  'GET /api/v1/events',
  // Config watches answer from the config hub's mirror of the registry (a watch waits while it loads).
  'GET /api/v1/configs/watch',
  'GET /api/v1/configs/stream',
]);
/** Writes without X-Switchyard-Actor: heartbeats and config acks are not recorded in the change log. */
const NO_ACTOR = new Set(['PUT /api/v1/services/{service}/endpoints/{name}/heartbeat', 'POST /api/v1/configs/{namespace}/{group}/{name}/ack']);
/** Operations whose success is not JSON but a stream of this media type (errors are still JSON). */
const STREAMS: Record<string, string> = { 'GET /api/v1/configs/stream': 'text/event-stream' };

const operations = (doc: Json): Op[] =>
  Object.entries(doc.paths as Record<string, Json>).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m]).map((m) => ({ method: m.toUpperCase(), path, op: item[m] })),
  );

/** `METHOD /path/{param}` of every route Express serves that the document must describe. */
function servedRoutes(app: TestApp): string[] {
  const express = app.app.getHttpAdapter().getInstance();
  const stack: Json[] = (express.router ?? express._router).stack;
  const out = new Set<string>();
  for (const layer of stack) {
    const path: unknown = layer.route?.path;
    if (typeof path !== 'string' || !(path.startsWith('/api/v1/') || path === '/health' || path === '/ready')) continue;
    for (const [m, on] of Object.entries(layer.route.methods as Record<string, boolean>))
      if (on && m !== '_all') out.add(`${m.toUpperCase()} ${path.replace(/:(\w+)/g, '{$1}')}`);
  }
  return [...out].sort();
}

const jsonSchema = (response: Json): Json => response?.content?.['application/json']?.schema;
const params = (op: Json, where: string): Json[] => (op.parameters ?? []).filter((p: Json) => p.in === where);
const hasHeader = (op: Json, name: string) => params(op, 'header').some((p: Json) => p.name.toLowerCase() === name.toLowerCase());

/** Everything missing from the document for a client generator; empty when complete. */
function audit(doc: Json, served: string[]): string[] {
  const problems: string[] = [];
  const ops = operations(doc);
  const documented = new Set(ops.map((o) => `${o.method} ${o.path}`));
  for (const r of served) if (!documented.has(r)) problems.push(`${r}: served but not in the document`);
  for (const r of documented) if (!served.includes(r)) problems.push(`${r}: in the document but not served`);

  const error = doc.components?.schemas?.ErrorBodyDto;
  if (!error) problems.push('components.schemas.ErrorBodyDto is missing');
  else {
    for (const f of ['statusCode', 'error', 'message']) if (!error.required?.includes(f)) problems.push(`ErrorBodyDto.${f} is not required`);
    for (const f of ['violations', 'referrers', 'currentVersion']) if (!error.properties?.[f]) problems.push(`ErrorBodyDto.${f} is not documented`);
  }

  for (const { method, path, op } of ops) {
    const id = `${method} ${path}`;
    const bad = (what: string) => problems.push(`${id}: ${what}`);
    const responses: Record<string, Json> = op.responses ?? {};
    const api = path.startsWith('/api/v1/');
    if (!op.summary) bad('no summary');
    const ok = Object.entries(responses).filter(([code]) => /^2\d\d$/.test(code));
    if (!ok.length) bad('no 2xx response');
    for (const [code, r] of ok)
      if (STREAMS[id]) {
        if (!r.content?.[STREAMS[id]]?.schema) bad(`${code} has no ${STREAMS[id]} schema`);
        if (jsonSchema(r)) bad(`${code} is a ${STREAMS[id]} stream but documents application/json`);
      } else if (!jsonSchema(r) && code !== '204') bad(`${code} has no schema (only 204 may have no body)`);
    for (const [code, r] of Object.entries(responses)) {
      if (!r.description) bad(`${code} has no description`);
      if (api && /^[45]\d\d$/.test(code) && jsonSchema(r)?.$ref !== ERROR_REF) bad(`${code} does not use the shared error schema`);
    }
    const needs = (code: string, why: string) => responses[code] || bad(`${why} but ${code} is not documented`);
    if (op.requestBody || params(op, 'query').length || hasHeader(op, 'If-Match')) needs('400', 'takes a body, a query or If-Match');
    if (api && params(op, 'path').length) needs('404', 'names something in its path');
    // Node's HTTP parser answers before any route runs: a URL or headers over its limit get 431 anywhere (REST fuzz seed 303).
    needs('431', 'can be sent a URL over the header limit');
    if (op.requestBody) {
      needs('413', 'takes a body');
      needs('415', 'takes a body');
      for (const [type, media] of Object.entries(op.requestBody.content ?? {}) as [string, Json][]) if (!media.schema) bad(`request body ${type} has no schema`);
    }
    if (hasHeader(op, 'If-Match')) needs('412', 'honours If-Match');
    if (api && !IN_MEMORY.has(id)) needs('503', 'needs the database');
    const write = ['POST', 'PUT', 'PATCH', 'DELETE'].includes(method);
    if (api && write && !NO_ACTOR.has(id) && !hasHeader(op, 'X-Switchyard-Actor')) bad('a write without the X-Switchyard-Actor header');
    if (['PUT', 'PATCH', 'DELETE'].includes(method) && path.endsWith('/{name}') && !hasHeader(op, 'If-Match')) bad('a resource write without If-Match');
    if (['PUT', 'PATCH'].includes(method) && !op.requestBody) bad('no request body');
    if (method === 'PATCH') {
      const content = op.requestBody?.content ?? {};
      for (const type of ['application/merge-patch+json', 'application/json']) if (content[type]?.schema?.type !== 'object') bad(`PATCH body ${type} is not an object schema`);
    }
    if (method === 'GET' && path.endsWith('/{name}') && !responses['200']?.headers?.ETag) bad('a single-resource GET without the ETag header');
  }
  for (const path of ['/api/v1/apply', '/api/v1/preview']) {
    const content = doc.paths[path]?.post?.requestBody?.content ?? {};
    if (content['application/yaml']?.schema?.type !== 'string') problems.push(`POST ${path}: application/yaml is not a string`);
    const json = content['application/json']?.schema;
    if (!json?.oneOf?.some((s: Json) => s.type === 'array') || !json.oneOf.some((s: Json) => s.properties?.resources?.type === 'array'))
      problems.push(`POST ${path}: application/json is not an array of resources or {resources: [...]}`);
  }
  return problems;
}

/* ---- a small JSON-schema check of real answers against the document (OpenAPI 3.0 subset) ---- */

function resolve(doc: Json, ref: string): Json {
  return ref.replace(/^#\//, '').split('/').reduce((o: Json, k) => o?.[k], doc);
}

/**
 * Problems of `value` against `schema`. Objects are strict: a property that is
 * not documented is a problem unless the schema allows additional properties,
 * so an answer carrying an undocumented field fails.
 */
function conform(doc: Json, schema: Json, value: unknown, at = '$'): string[] {
  if (schema.$ref) return conform(doc, resolve(doc, schema.$ref), value, at);
  if (value === null) return schema.nullable ? [] : [`${at}: null is not allowed`];
  const out: string[] = [];
  for (const s of schema.allOf ?? []) out.push(...conform(doc, s, value, at));
  const alternatives = schema.oneOf ?? schema.anyOf;
  if (alternatives) {
    const tries = alternatives.map((s: Json) => conform(doc, s, value, at));
    if (!tries.some((t: string[]) => !t.length)) out.push(`${at}: matches none of oneOf (closest: ${tries.sort((a: string[], b: string[]) => a.length - b.length)[0].join('; ')})`);
  }
  if (schema.enum && !schema.enum.includes(value)) out.push(`${at}: ${JSON.stringify(value)} is not one of ${schema.enum.join(', ')}`);
  const type = schema.type ?? (schema.properties ? 'object' : undefined);
  const is: Record<string, (v: unknown) => boolean> = {
    object: (v) => typeof v === 'object' && !Array.isArray(v),
    array: Array.isArray,
    string: (v) => typeof v === 'string',
    integer: Number.isInteger,
    number: (v) => typeof v === 'number',
    boolean: (v) => typeof v === 'boolean',
  };
  if (type && !is[type]?.(value)) return [...out, `${at}: ${JSON.stringify(value)?.slice(0, 80)} is not ${type}`];
  if (type === 'array') (value as unknown[]).forEach((v, i) => schema.items && out.push(...conform(doc, schema.items, v, `${at}[${i}]`)));
  if (type === 'object') {
    const obj = value as Record<string, unknown>;
    for (const f of schema.required ?? []) if (!(f in obj)) out.push(`${at}.${f}: required but absent`);
    for (const [k, v] of Object.entries(obj)) {
      const prop = schema.properties?.[k];
      if (prop) out.push(...conform(doc, prop, v, `${at}.${k}`));
      else if (typeof schema.additionalProperties === 'object') out.push(...conform(doc, schema.additionalProperties, v, `${at}.${k}`));
      else if (schema.additionalProperties === false || (schema.properties && schema.additionalProperties !== true)) out.push(`${at}.${k}: not documented`);
    }
  }
  return out;
}

describe('OpenAPI document', () => {
  let app: TestApp;
  let doc: Json;
  let ops: { re: RegExp; params: number; path: string }[];
  const seen = new Set<string>();

  /** Finds the operation of a concrete request path. */
  const operationOf = (method: string, url: string): { id: string; op: Json } => {
    const path = url.split('?')[0];
    const match = ops.filter((o) => o.re.test(path) && doc.paths[o.path][method.toLowerCase()]).sort((a, b) => a.params - b.params)[0];
    assert.ok(match, `${method} ${path}: no documented operation`);
    return { id: `${method} ${match.path}`, op: doc.paths[match.path][method.toLowerCase()] };
  };

  /**
   * Makes a request, and checks that its status is documented for the
   * operation, that the answer matches the documented schema (and headers), and,
   * when it succeeded, that the body sent matches the documented request body.
   */
  const call = async (method: string, url: string, expected: number, body?: unknown, headers: Record<string, string> = {}): Promise<HttpResult> => {
    const res = await request(app.base, method, url, body, headers);
    assert.equal(res.status, expected, `${method} ${url}: ${res.text.slice(0, 500)}`);
    const { id, op } = operationOf(method, url);
    const documented = op.responses[String(res.status)];
    assert.ok(documented, `${id}: answered ${res.status}, which is not documented (${Object.keys(op.responses).join(', ')})`);
    seen.add(`${id} ${res.status}`);
    const schema = jsonSchema(documented);
    if (schema) assert.deepEqual(conform(doc, schema, res.body), [], `${id} ${res.status}: the answer does not match the document: ${res.text.slice(0, 300)}`);
    if (res.status < 300) {
      assert.equal(!!res.headers.get('etag'), !!documented.headers?.ETag, `${id} ${res.status}: ETag ${res.headers.get('etag') ? 'sent but not documented' : 'documented but not sent'}`);
      if (body !== undefined) {
        const type = Object.entries(headers).find(([h]) => h.toLowerCase() === 'content-type')?.[1] ?? 'application/json';
        const media = op.requestBody?.content?.[type.split(';')[0]];
        assert.ok(media, `${id}: sent ${type}, which the document does not list`);
        const sent = typeof body === 'string' ? body : JSON.parse(JSON.stringify(body));
        assert.deepEqual(conform(doc, media.schema, sent), [], `${id}: the request body does not match the document`);
      }
    }
    return res;
  };

  /**
   * Opens an event stream (which never ends by itself), checks its status and
   * media type against the document, reads it until `until` matches, runs
   * `during` while it is still open, then aborts it. Returns what was read.
   */
  const stream = async (url: string, until: RegExp, during?: () => Promise<void>): Promise<string> => {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), 10_000);
    try {
      const res = await fetch(app.base + url, { signal: abort.signal });
      const { id, op } = operationOf('GET', url);
      assert.equal(res.status, 200, `GET ${url}: ${res.status === 200 ? '' : await res.text()}`);
      const documented = op.responses['200'];
      const type = (res.headers.get('content-type') ?? '').split(';')[0];
      assert.ok(documented?.content?.[type]?.schema, `${id}: answered ${type}, which the document does not list for 200`);
      assert.equal(!!res.headers.get('etag'), !!documented.headers?.ETag, `${id} 200: ETag ${res.headers.get('etag') ? 'sent but not documented' : 'documented but not sent'}`);
      seen.add(`${id} 200`);
      const reader = res.body!.getReader();
      let text = '';
      while (!until.test(text)) {
        const { value, done } = await reader.read();
        assert.ok(!done, `${id}: the stream ended before ${until}: ${text}`);
        text += Buffer.from(value).toString('utf8');
      }
      await during?.();
      await reader.cancel();
      return text;
    } finally {
      clearTimeout(timer);
      abort.abort();
    }
  };

  before(async () => {
    app = await startTestApp('pglite');
    const res = await app.http('GET', '/api/docs-json');
    assert.equal(res.status, 200);
    doc = res.body;
    ops = Object.keys(doc.paths).map((path) => ({
      path,
      params: (path.match(/\{/g) ?? []).length,
      re: new RegExp(`^${path.replace(/\{\w+\}/g, '[^/]+')}$`),
    }));
  });
  after(async () => {
    await app?.stop();
  });

  it('is a valid OpenAPI 3 document', async () => {
    assert.match(doc.openapi, /^3\./);
    await SwaggerParser.validate(structuredClone(doc));
  });

  it('describes every route the server serves, with responses, errors, headers and bodies', (t) => {
    const served = servedRoutes(app);
    assert.ok(served.length > 40, `found only ${served.length} routes: is the Express router still where this test looks?`);
    assert.deepEqual(audit(doc, served), []);
    t.diagnostic(`${operations(doc).length} operations documented`);
  });

  it('the checks catch an undocumented route, a response without a schema, a missing error and an undocumented field', () => {
    const service = { $ref: '#/components/schemas/ServiceDto' };
    assert.deepEqual(conform(doc, service, echoService()), []);
    assert.deepEqual(conform(doc, service, { ...echoService(), colour: 'red' }), ['$.colour: not documented']);
    assert.deepEqual(conform(doc, service, echoService({ port: '80' })), ['$.spec.port: "80" is not integer']);

    const broken = structuredClone(doc);
    delete broken.paths['/api/v1/changes'].get.responses['200'].content;
    delete broken.paths['/api/v1/services/{name}'].put.responses['412'];
    broken.paths['/api/v1/routes/{name}'].delete.responses['404'].content['application/json'].schema = { type: 'object' };
    delete broken.paths['/api/v1/configs/stream'].get.responses['200'].content;
    const problems = audit(broken, [...servedRoutes(app), 'GET /api/v1/new-thing']);
    for (const p of [
      'GET /api/v1/new-thing: served but not in the document',
      'GET /api/v1/changes: 200 has no schema (only 204 may have no body)',
      'PUT /api/v1/services/{name}: honours If-Match but 412 is not documented',
      'DELETE /api/v1/routes/{name}: 404 does not use the shared error schema',
      'GET /api/v1/configs/stream: 200 has no text/event-stream schema',
    ])
      assert.ok(problems.includes(p), `expected "${p}" in ${JSON.stringify(problems)}`);
  });

  it('what the server answers matches the document, successes and errors', async (t) => {
    const json = { 'content-type': 'application/json' };
    const patch = { 'content-type': 'application/merge-patch+json' };
    const yaml = { 'content-type': 'application/yaml' };

    // Services: create, read, list pages, patch, replace, preconditions.
    await call('POST', '/api/v1/services', 201, echoService(), { 'x-switchyard-actor': 'openapi-test' });
    await call('POST', '/api/v1/services', 201, { ...echoService(), name: 'other' });
    await call('POST', '/api/v1/services', 409, echoService());
    await call('POST', '/api/v1/services', 400, { name: 'Bad_Name', spec: { protocol: 'udp', port: 0 } });
    await call('POST', '/api/v1/services', 400, '{not json', json);
    await call('POST', '/api/v1/services', 415, 'name: echo', { 'content-type': 'text/plain' });
    await call('POST', '/api/v1/services', 413, JSON.stringify({ ...echoService(), name: 'big', labels: { a: 'x'.repeat(2 * 1024 * 1024 + 10) } }), json);
    const got = await call('GET', '/api/v1/services/echo', 200);
    await call('GET', '/api/v1/services/nope', 404);
    const page = await call('GET', '/api/v1/services?limit=1', 200);
    assert.ok(page.body.nextPageToken);
    await call('GET', `/api/v1/services?limit=1&pageToken=${page.body.nextPageToken}`, 200);
    await call('GET', '/api/v1/services?limit=0', 400);
    await call('GET', '/api/v1/services?labelSelector=team%20in%20core', 400);
    await call('PATCH', '/api/v1/services/echo', 200, { labels: { owner: 'edge' } }, { ...patch, 'if-match': got.headers.get('etag')! });
    await call('PATCH', '/api/v1/services/echo', 400, { name: 'renamed' }, patch);
    await call('PATCH', '/api/v1/services/nope', 404, { labels: { a: 'b' } }, patch);
    const stale = await call('PUT', '/api/v1/services/echo', 412, echoService(), { 'if-match': '"1"' });
    assert.equal(stale.body.currentVersion, 2);
    await call('PUT', '/api/v1/services/echo', 400, echoService(), { 'if-match': 'seven' });
    await call('PUT', '/api/v1/services/echo', 200, { ...got.body, version: undefined, labels: { team: 'core' } }, { 'if-match': '"2"' });
    await call('PUT', '/api/v1/services/nope', 404, { ...echoService(), name: 'nope' });

    // Policies, routes, listeners: references, host conflicts, deletes.
    await call('POST', '/api/v1/policies', 201, retryPolicy());
    await call('PATCH', '/api/v1/services/echo', 200, { spec: { policies: ['echo-retry'] } }, patch);
    const referenced = await call('DELETE', '/api/v1/policies/echo-retry', 409);
    assert.equal(referenced.body.referrers[0].name, 'echo');
    await call('GET', '/api/v1/policies', 200);
    await call('POST', '/api/v1/routes', 201, echoRoute());
    const clash = await call('POST', '/api/v1/routes', 409, { ...echoRoute(), name: 'echo-2' });
    assert.equal(clash.body.conflictsWith.name, 'echo');
    await call('POST', '/api/v1/listeners', 201, edgeListener());
    await call('GET', '/api/v1/listeners/edge', 200);
    await call('GET', '/api/v1/listeners', 200);
    await call('GET', '/api/v1/routes', 200);
    await call('PUT', '/api/v1/services/echo', 409, echoService({ subsets: [] }));
    await call('DELETE', '/api/v1/services/echo', 409);
    await call('DELETE', '/api/v1/services/echo?cascade=maybe', 400);
    await call('DELETE', '/api/v1/routes/nope', 404);
    await call('DELETE', '/api/v1/policies/echo-retry', 412, undefined, { 'if-match': '"9"' });
    const cascade = await call('DELETE', '/api/v1/policies/echo-retry?cascade=true', 200);
    assert.equal(cascade.body.updated[0].name, 'echo');

    // Endpoints: durable and heartbeat ones.
    await call('POST', '/api/v1/services/echo/endpoints', 201, echoEndpoint('echo-a', 'v1'));
    const generated = await call('POST', '/api/v1/services/echo/endpoints', 201, { spec: { address: '127.0.0.2', port: 50062, labels: { version: 'v2' } } });
    await call('POST', '/api/v1/services/nope/endpoints', 404, { spec: { address: '127.0.0.2', port: 1 } });
    await call('GET', '/api/v1/services/echo/endpoints', 200);
    await call('GET', '/api/v1/services/nope/endpoints', 404);
    await call('GET', '/api/v1/services/echo/endpoints/echo-a', 200);
    await call('GET', '/api/v1/services/echo/endpoints/nope', 404);
    await call('PATCH', `/api/v1/services/echo/endpoints/${generated.body.name}`, 200, { spec: { health: 'draining' } }, patch);
    await call('PUT', '/api/v1/services/echo/endpoints/echo-a', 200, { spec: { ...echoEndpoint('echo-a', 'v1').spec, weight: 2 } });
    await call('PUT', '/api/v1/services/echo/endpoints/echo-a/heartbeat', 404);
    await call('POST', '/api/v1/services/echo/endpoints', 201, { name: 'echo-hb', spec: { address: '127.0.0.3', port: 50063, ttlSeconds: 30 } });
    await call('PUT', '/api/v1/services/echo/endpoints/echo-hb/heartbeat', 200);
    await call('PUT', '/api/v1/services/echo/endpoints/echo-new/heartbeat', 200, { spec: { address: '127.0.0.4', port: 50064, ttlSeconds: 30 } });
    await call('GET', '/api/v1/services/echo/endpoints/echo-hb', 200);
    await call('PUT', '/api/v1/services/echo/endpoints/echo-hb', 409, { spec: { address: '127.0.0.3', port: 50063 } });
    await call('DELETE', '/api/v1/services/echo/endpoints/echo-hb', 200);
    await call('DELETE', '/api/v1/services/echo/endpoints/nope', 404);

    // Apply, preview and the change log.
    await call('POST', '/api/v1/apply', 200, [echoService(), echoRoute(80, 20)]);
    await call('POST', '/api/v1/apply?dryRun=true', 200, { resources: [retryPolicy('r2')] });
    await call('POST', '/api/v1/apply', 200, 'kind: Policy\nname: r3\nspec: {type: retry, retry: {attempts: 2}}\n---\nkind: Policy\nname: r4\nspec: {type: timeout, timeout: {requestMs: 500}}\n', yaml);
    await call('POST', '/api/v1/apply', 200, retryPolicy('r5'));
    await call('POST', '/api/v1/apply', 400, [{ kind: 'Service', name: 'x', spec: { protocol: 'udp', port: 1 } }]);
    await call('POST', '/api/v1/apply', 400, 'kind: [unclosed', yaml);
    await call('POST', '/api/v1/apply', 412, [{ ...retryPolicy('r3'), version: 9 }]);
    await call('POST', '/api/v1/apply', 409, [{ ...echoRoute(), name: 'echo-3' }]);
    await call('POST', '/api/v1/apply', 415, 'x', { 'content-type': 'text/csv' });
    const preview = await call('POST', '/api/v1/preview', 200, [echoRoute(50, 50), { ...edgeListener(), name: 'edge-2', spec: { ...edgeListener().spec, port: 10001 } }]);
    assert.ok(Object.keys(preview.body.xds).length, 'the preview shows an xDS diff');
    await call('POST', '/api/v1/preview', 200, 'kind: Policy\nname: r6\nspec: {type: retry, retry: {attempts: 1}}\n', yaml);
    await call('POST', '/api/v1/preview', 400, { nothing: true });
    const changes = await call('GET', '/api/v1/changes?since=0&withObjects=true', 200);
    assert.ok(changes.body.changes.some((c: Json) => c.op === 'delete' && c.object === null), 'a delete has object null');
    await call('GET', '/api/v1/changes?since=-1', 400);

    // Rollouts and their actions.
    await call('POST', '/api/v1/rollouts', 201, { name: 'ro', spec: { service: 'echo', stable: 'v1', canary: 'v2', steps: [{ setWeight: 10 }, { pause: {} }] } });
    await call('GET', '/api/v1/rollouts/ro', 200);
    await call('GET', '/api/v1/rollouts', 200);
    await call('POST', '/api/v1/rollouts/ro/retry', 409);
    await call('POST', '/api/v1/rollouts/ro/jump', 400);
    await call('POST', '/api/v1/rollouts/nope/pause', 404);
    await call('POST', '/api/v1/rollouts/ro/abort', 412, undefined, { 'if-match': '"99"' });
    const owned = await call('PUT', '/api/v1/routes/echo', 409, echoRoute(0, 100));
    assert.equal(owned.body.rollout, 'ro');
    await call('GET', '/api/v1/routes/echo', 200);
    await call('PATCH', '/api/v1/routes/echo', 200, { labels: { owner: 'edge' } }, patch);
    await call('DELETE', '/api/v1/routes/echo', 409);
    const ro = await call('GET', '/api/v1/rollouts/ro', 200);
    await call('PUT', '/api/v1/rollouts/ro', 200, { name: 'ro', labels: { team: 'core' }, spec: { ...ro.body.spec } });
    await call('PATCH', '/api/v1/rollouts/ro', 200, { labels: { team: 'edge' } }, patch);
    await call('DELETE', '/api/v1/rollouts/ro', 200);

    // History of each kind, a version as it was, a diff; rollback and its preview; the audit trail.
    for (const [plural, name] of [['services', 'echo'], ['routes', 'echo'], ['listeners', 'edge'], ['policies', 'r3'], ['rollouts', 'ro'], ['services/echo/endpoints', 'echo-a']]) {
      const h = await call('GET', `/api/v1/${plural}/${name}/history?limit=2`, 200);
      assert.ok(h.body.items.length);
      await call('GET', `/api/v1/${plural}/${name}/history/1`, 200);
      await call('GET', `/api/v1/${plural}/${name}/history?diff=1..1`, 200);
      await call('GET', `/api/v1/${plural}/nope/history`, 404);
      await call('GET', `/api/v1/${plural}/${name}/history/nine`, 400);
    }
    const diffed = await call('GET', '/api/v1/services/echo/history?diff=1..2', 200);
    assert.ok(diffed.body.patch.length && diffed.body.diff);
    await call('GET', '/api/v1/services/echo/history?diff=oops', 400);
    const at = (await call('GET', '/api/v1/changes?since=0&limit=1', 200)).body.revision;
    await call('POST', '/api/v1/policies', 201, retryPolicy('r7'));
    const dryRollback = await call('POST', '/api/v1/rollback', 200, { toRevision: at, kinds: ['Policy'], dryRun: true });
    assert.deepEqual(dryRollback.body.results.map((r: Json) => r.result), ['deleted']);
    await call('POST', '/api/v1/preview/rollback', 200, { toRevision: at, names: ['r7'] });
    await call('POST', '/api/v1/rollback', 200, { toRevision: at, names: ['r7'] });
    await call('POST', '/api/v1/rollback', 400, { toRevision: -1 });
    await call('POST', '/api/v1/preview/rollback', 400, { toRevision: 'soon' });
    await call('GET', '/api/v1/audit?limit=5&actor=openapi-test', 200);
    await call('GET', '/api/v1/audit?since=later', 400);

    // The rest of the CRUD operations.
    await call('PUT', '/api/v1/listeners/edge', 200, { ...edgeListener(), labels: { tier: 'edge' } });
    await call('PATCH', '/api/v1/listeners/edge', 200, { spec: { port: 10002 } }, patch);
    await call('DELETE', '/api/v1/listeners/edge', 200);
    await call('GET', '/api/v1/policies/r3', 200);
    await call('PUT', '/api/v1/policies/r3', 200, { ...retryPolicy('r3'), spec: { type: 'retry', retry: { attempts: 4 } } });
    await call('PATCH', '/api/v1/policies/r3', 200, { spec: { retry: { attempts: 5 } } }, patch);
    await call('DELETE', '/api/v1/policies/r4', 200);
    await call('DELETE', '/api/v1/services/other', 200);
    // Something for the xDS clients below to be served: without a listener, CDS is empty once the writes above are
    // translated (debounced), and a probe that only looked before that was a race.
    await call('POST', '/api/v1/listeners', 201, edgeListener());

    // xDS clients.
    const ads = new AdsTestClient(app.xdsPort);
    try {
      ads.send({ node: envoyNode('openapi-probe'), type_url: TYPE.cluster });
      const cds = await ads.next();
      ads.send({ type_url: TYPE.cluster, version_info: '', response_nonce: cds.nonce, error_detail: { code: 3, message: 'refused for the test' } });
      ads.send({ type_url: TYPE.listener });
      await ads.next();
      let listed: HttpResult;
      for (let i = 0; ; i++) {
        listed = await call('GET', '/api/v1/proxies', 200);
        const types = listed.body.items.find((p: Json) => p.id === 'openapi-probe')?.types ?? {};
        if (types.CDS?.lastNack && types.LDS?.lastSentVersion) break;
        assert.ok(i < 50, `the probe's NACK never showed: ${listed.text}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      for (let i = 0; ; i++) {
        const config = await call('GET', '/api/v1/proxies/openapi-probe/config', 200);
        if (config.body[0].configs.CDS.resources.length) break;
        assert.ok(i < 50, `the probe's clusters never showed: ${config.text.slice(0, 300)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      await call('GET', '/api/v1/proxies/nope/config', 404);
    } finally {
      ads.close();
    }
    // Configs: create/replace, revisions, gray release, acks and instances, watching.
    const CFG = '/api/v1/configs/prod/orders';
    const sinceConfigs = (await call('GET', '/api/v1/changes?since=0&limit=1', 200)).body.revision;
    const cfg = await call('PUT', `${CFG}/app.yaml`, 200, { labels: { team: 'core' }, spec: { format: 'yaml', content: 'pool:\n  size: 10\n' } }, { 'x-switchyard-actor': 'openapi-test' });
    assert.equal(cfg.body.version, 1);
    await call('PUT', `${CFG}/app.yaml`, 412, { spec: { format: 'yaml', content: 'pool: {size: 11}\n' } }, { 'if-match': '"9"' });
    const badJson = await call('PUT', `${CFG}/bad.json`, 400, { spec: { format: 'json', content: '{\n  "a": 1,\n  "b": }\n' } });
    assert.match(badJson.body.violations[0].message, /^line 3: /);
    await call('PUT', '/api/v1/configs/Bad_NS/orders/app.yaml', 400, { spec: { format: 'text', content: '' } });
    await call('PUT', `${CFG}/big.txt`, 413, { spec: { format: 'text', content: 'x'.repeat(1024 * 1024 + 1) } });
    await call('PUT', `${CFG}/app.yaml`, 415, 'pool: 1', { 'content-type': 'text/plain' });
    await call('POST', '/api/v1/configs', 201, { kind: 'Config', namespace: 'prod', group: 'orders', name: 'limits.json', spec: { format: 'json', content: '{"rps": 100}' } }, { 'x-switchyard-actor': 'openapi-test' });
    await call('POST', '/api/v1/configs', 409, { namespace: 'prod', group: 'orders', name: 'limits.json', spec: { format: 'json', content: '{}' } });
    await call('POST', '/api/v1/configs', 400, { group: 'orders', name: 'x', spec: { format: 'toml', content: '' } });
    await call('POST', '/api/v1/configs', 415, 'name: x', { 'content-type': 'text/plain' });
    await call('POST', '/api/v1/apply', 200, [{ kind: 'Config', namespace: 'prod', group: 'orders', name: 'app.properties', spec: { format: 'properties', content: 'a=1\n' } }]);
    await call('GET', `${CFG}/app.yaml`, 200);
    await call('GET', `${CFG}/nope.yaml`, 404);
    await call('GET', '/api/v1/configs/Bad_NS/orders/app.yaml', 400);
    const cfgPage = await call('GET', '/api/v1/configs?namespace=prod&group=orders&limit=1', 200);
    assert.ok(cfgPage.body.nextPageToken);
    await call('GET', `/api/v1/configs?namespace=prod&group=orders&limit=1&pageToken=${cfgPage.body.nextPageToken}`, 200);
    await call('GET', '/api/v1/configs?labelSelector=team%3Dcore', 200);
    await call('GET', '/api/v1/configs?limit=0', 400);
    await call('PATCH', `${CFG}/app.yaml`, 200, { labels: { owner: 'orders' } }, { ...patch, 'if-match': cfg.headers.get('etag')! });
    await call('PATCH', `${CFG}/app.yaml`, 400, { spec: { format: 'json' } }, patch);
    await call('PATCH', `${CFG}/app.yaml`, 412, { labels: { a: 'b' } }, { ...patch, 'if-match': '"1"' });
    await call('PATCH', `${CFG}/nope.yaml`, 404, { labels: { a: 'b' } }, patch);
    await call('PUT', `${CFG}/app.yaml`, 200, { labels: { team: 'core' }, spec: { format: 'yaml', content: 'pool:\n  size: 20\n' } }, { 'if-match': '"2"' });

    const hist = await call('GET', `${CFG}/app.yaml/history?limit=2`, 200);
    assert.deepEqual(hist.body.items.map((i: Json) => i.revision), [3, 2]);
    await call('GET', `${CFG}/app.yaml/history?limit=2&before=${hist.body.nextBefore}`, 200);
    await call('GET', `${CFG}/app.yaml/history?limit=0`, 400);
    await call('GET', `${CFG}/nope.yaml/history`, 404);
    await call('GET', `${CFG}/app.yaml/history/1`, 200);
    await call('GET', `${CFG}/app.yaml/history/99`, 404);
    await call('GET', `${CFG}/app.yaml/history/x`, 400);
    const diff = await call('GET', `${CFG}/app.yaml/diff?from=1`, 200);
    assert.match(diff.body.diff, /-  size: 10\n\+  size: 20/);
    await call('GET', `${CFG}/app.yaml/diff?from=1&to=99`, 404);
    await call('GET', `${CFG}/app.yaml/diff`, 400);
    await call('POST', `${CFG}/app.yaml/rollback`, 412, { revision: 1 }, { 'if-match': '"1"' });
    await call('POST', `${CFG}/app.yaml/rollback`, 404, { revision: 99 });
    await call('POST', `${CFG}/app.yaml/rollback`, 400, { revision: 0 });
    await call('POST', `${CFG}/app.yaml/rollback`, 415, 'revision=1', { 'content-type': 'text/plain' });
    const rolled = await call('POST', `${CFG}/app.yaml/rollback`, 200, { revision: 1 }, { 'x-switchyard-actor': 'openapi-test' });
    assert.equal(rolled.body.version, 4);

    const grayed = await call('PUT', `${CFG}/app.yaml/gray`, 200, { content: 'pool:\n  size: 30\n', target: { labels: { env: 'gray' }, percent: 100 } }, { 'if-match': '"4"' });
    assert.deepEqual(grayed.body.status.revisions, { content: 4, gray: 5 });
    await call('PUT', `${CFG}/app.yaml/gray`, 400, { content: 'pool: [', target: { percent: 10 } });
    await call('PUT', `${CFG}/app.yaml/gray`, 412, { content: 'pool: 1\n', target: { percent: 10 } }, { 'if-match': '"1"' });
    await call('PUT', `${CFG}/app.yaml/gray`, 413, { content: 'x'.repeat(1024 * 1024 + 1), target: { percent: 10 } });
    await call('PUT', `${CFG}/app.yaml/gray`, 415, 'percent: 10', { 'content-type': 'text/plain' });
    await call('PUT', `${CFG}/nope.yaml/gray`, 404, { content: 'pool: 1\n', target: { percent: 10 } });

    // Watching. The watch side follows the change feed, a little behind the writes: holding revision 4 (ahead of
    // what it may have seen), the long poll waits for the feed, then answers with the gray candidate, revision 5.
    const watchQuery = 'namespace=prod&group=orders&names=app.yaml,limits.json&labels=env%3Dgray';
    const polled = await call('GET', `/api/v1/configs/watch?${watchQuery}&instanceId=openapi-poll&known=app.yaml:4,limits.json:1&timeoutMs=10000`, 200);
    assert.deepEqual(polled.body.updates.map((u: Json) => [u.name, u.revision, u.gray]), [['app.yaml', 5, true]]);
    // Holding nothing: everything at once (the event stream below sends the same, then a synced marker).
    const all = await call('GET', `/api/v1/configs/watch?${watchQuery}&instanceId=openapi-all&timeoutMs=0`, 200);
    assert.deepEqual(all.body.updates.map((u: Json) => [u.name, u.revision, u.gray]), [['app.yaml', 5, true], ['limits.json', 1, false]]);
    const unchanged = await call('GET', `/api/v1/configs/watch?${watchQuery}&instanceId=openapi-all&known=app.yaml:5,limits.json:1&timeoutMs=0`, 200);
    assert.deepEqual(unchanged.body.updates, []);
    await call('GET', '/api/v1/configs/watch?namespace=prod&group=orders&known=app.yaml:x', 400);
    await call('GET', '/api/v1/configs/stream?namespace=prod', 400);
    await call('GET', '/api/v1/configs/stream?namespace=prod&group=orders', 400, undefined, { 'last-event-id': 'app.yaml' });
    const events = await stream(`/api/v1/configs/stream?${watchQuery}&instanceId=openapi-sse`, /event: synced\n/, async () => {
      // While the stream is open, the instance is on the board; it acknowledges what it got.
      await call('POST', `${CFG}/app.yaml/ack`, 200, { instanceId: 'openapi-sse', revision: 5 });
      const inst = await call('GET', `${CFG}/app.yaml/instances`, 200);
      assert.ok(inst.body.items.some((i: Json) => i.instanceId === 'openapi-sse' && i.transport === 'sse' && i.applied === 5), inst.text);
    });
    const data = [...events.matchAll(/^event: config\ndata: (.*)$/gm)].map((m) => JSON.parse(m[1]));
    assert.deepEqual(data.map((u: Json) => [u.name, u.revision]), [['app.yaml', 5], ['limits.json', 1]]);
    for (const u of data) assert.deepEqual(conform(doc, { $ref: '#/components/schemas/ConfigUpdateDto' }, u), [], 'an SSE event carries a documented ConfigUpdate');
    await call('POST', `${CFG}/app.yaml/ack`, 200, { instanceId: 'openapi-poll', revision: 4, error: 'pool size out of range' });
    await call('POST', `${CFG}/app.yaml/ack`, 400, { instanceId: 'openapi-poll', revision: 99 });
    await call('POST', `${CFG}/app.yaml/ack`, 413, JSON.stringify({ instanceId: 'x', revision: 1, error: 'x'.repeat(2 * 1024 * 1024 + 10) }), json);
    await call('POST', `${CFG}/app.yaml/ack`, 415, 'revision=1', { 'content-type': 'text/plain' });
    await call('POST', `${CFG}/nope.yaml/ack`, 404, { instanceId: 'x', revision: 1 });
    await call('GET', `${CFG}/nope.yaml/instances`, 404);
    await call('GET', '/api/v1/configs/Bad_NS/orders/app.yaml/instances', 400);

    await call('POST', `${CFG}/app.yaml/gray/promote`, 412, undefined, { 'if-match': '"1"' });
    const promoted = await call('POST', `${CFG}/app.yaml/gray/promote`, 200, undefined, { 'x-switchyard-actor': 'openapi-test' });
    assert.equal(promoted.body.spec.content, 'pool:\n  size: 30\n');
    await call('POST', `${CFG}/app.yaml/gray/promote`, 409);
    await call('POST', `${CFG}/nope.yaml/gray/promote`, 404);
    await call('PUT', `${CFG}/app.yaml/gray`, 200, { content: 'pool:\n  size: 40\n', target: { labels: 'env=gray' } });
    await call('DELETE', `${CFG}/app.yaml/gray`, 412, undefined, { 'if-match': '"1"' });
    await call('DELETE', `${CFG}/app.yaml/gray`, 200, undefined, { 'x-switchyard-actor': 'openapi-test' });
    await call('DELETE', `${CFG}/app.yaml/gray`, 409);
    await call('DELETE', `${CFG}/nope.yaml/gray`, 404);

    await call('DELETE', `${CFG}/limits.json`, 412, undefined, { 'if-match': '"9"' });
    await call('DELETE', `${CFG}/limits.json`, 200, undefined, { 'x-switchyard-actor': 'openapi-test' });
    await call('DELETE', `${CFG}/limits.json`, 404);
    await call('DELETE', '/api/v1/configs/Bad_NS/orders/limits.json', 400);
    const gone = await call('GET', `${CFG}/limits.json/history`, 200);
    assert.deepEqual(gone.body.items.map((i: Json) => i.op), ['delete', 'create']);
    await call('GET', `${CFG}/limits.json/history/2`, 400);
    await call('POST', `${CFG}/limits.json/rollback`, 200, { revision: 1 });
    const configChanges = await call('GET', `/api/v1/changes?since=${sinceConfigs}&withObjects=true`, 200);
    assert.ok(configChanges.body.changes.some((c: Json) => c.kind === 'Config' && c.namespace === 'prod' && c.group === 'orders' && c.object?.spec?.format === 'json'));

    // Events, version, probes.
    await call('GET', '/api/v1/events', 200);
    await call('GET', `/api/v1/events?service=${'x'.repeat(64)}`, 400);
    await call('GET', '/api/v1/version', 200);

    // Tokens (AUTH_MODE=none here: anyone may manage them; 401, 403 and 429 are in auth-matrix.test.ts).
    const token = await call('POST', '/api/v1/tokens', 201, { name: 'openapi', roles: ['viewer'], scopes: { services: ['echo'] } }, { 'x-switchyard-actor': 'openapi-test' });
    await call('POST', '/api/v1/tokens', 409, { name: 'openapi', roles: ['viewer'] });
    await call('POST', '/api/v1/tokens', 400, { name: 'openapi2', roles: ['viewer'], id: 'mine' });
    await call('GET', '/api/v1/tokens', 200);
    await call('DELETE', `/api/v1/tokens/${token.body.id}`, 200);
    await call('DELETE', `/api/v1/tokens/${token.body.id}`, 404);
    await call('GET', '/health', 200);
    await call('GET', '/ready', 200);

    // Every operation was called at least once: a new route needs a call above too.
    const called = new Set([...seen].map((s) => s.split(' ').slice(0, 2).join(' ')));
    const never = operations(doc).map((o) => `${o.method} ${o.path}`).filter((id) => !called.has(id));
    assert.deepEqual(never, [], `operations this test never calls (add a call above): ${never.join(', ')}`);
    t.diagnostic(`${seen.size} (operation, status) pairs checked against the document`);
  });
});
