import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from '../support/app.js';
import { ADMIN, bearer, createToken } from '../support/auth.js';

/**
 * The fast paths (src/registry/rest/fast-paths.ts) answer registrations and
 * heartbeats ahead of Express and Nest. They must answer exactly as the Nest
 * routes do. Every case here is sent twice: once as the fast path takes it
 * (a Content-Length body) and once chunked, which the fast path leaves to
 * Nest; status, body and headers must be equal (names carry a -f or -n
 * suffix so both can succeed; timestamps and generated names are masked).
 * The fast-path counter proves which way each request went.
 */

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

function send(app: TestApp, method: string, path: string, body: string | undefined, headers: Record<string, string>, chunked: boolean): Promise<Answer> {
  const url = new URL(app.base);
  return new Promise((resolve, reject) => {
    const h: Record<string, string> = { ...headers };
    // Explicit both ways: Node would pick chunked or a length by itself for a PUT without a body.
    if (chunked) h['transfer-encoding'] = 'chunked';
    else h['content-length'] = String(body === undefined ? 0 : Buffer.byteLength(body));
    const req = http.request({ host: url.hostname, port: url.port, method, path, headers: h, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

// Per-connection and per-length headers differ between any two answers.
const TRANSPORT = new Set(['date', 'content-length', 'connection', 'keep-alive', 'transfer-encoding']);

/** Status, headers and body with the way-specific parts masked. */
function comparable(a: Answer, suffix: 'f' | 'n') {
  const mask = (s: string) =>
    // Random hex goes first: a generated name or UUID with "-f" in it ("fp-f359…") must not meet the suffix rewrite.
    s
      .replace(/"fp-[0-9a-f]{8}"/g, '"GENERATED"')
      .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, 'UUID')
      .replace(/"lease":"\d+"/g, '"lease":"L"')
      .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, 'TIME')
      .replaceAll(`-${suffix}`, '-X');
  const headers = Object.fromEntries(
    Object.entries(a.headers)
      .filter(([k]) => !TRANSPORT.has(k))
      .map(([k, v]) => [k, mask(String(v))])
      .sort(([x], [y]) => (x < y ? -1 : 1)),
  );
  return { status: a.status, headers, body: mask(a.text) };
}

interface Case {
  title: string;
  method?: string;
  path?: (s: string) => string;
  body: (s: string) => string | undefined;
  headers?: Record<string, string>;
  /** The status both ways must give (a check that the case tests what its title says). */
  status: number;
}

const ep = (name: string | undefined, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ ...(name ? { name } : {}), labels: { tier: 'web' }, spec: { address: '10.9.0.1', port: 8080, ...extra } });

const CASES: Case[] = [
  { title: 'a registration with a name', body: (s) => ep(`ok-${s}`), status: 201 },
  { title: 'a registration without a name (generated)', body: () => ep(undefined), status: 201 },
  { title: 'a registration with the actor header', body: (s) => ep(`actor-${s}`), headers: { 'x-switchyard-actor': 'deployer' }, status: 201 },
  { title: 'a heartbeat registration (spec.ttlSeconds)', body: (s) => ep(`hb-${s}`, { ttlSeconds: 30 }), status: 201 },
  { title: 'labels with prototype-like keys', body: (s) => JSON.stringify({ name: `proto-${s}`, labels: { constructor: 'a', toString: 'b' }, spec: { address: '10.9.0.2', port: 1 } }), status: 201 },
  { title: 'unknown fields and wrong types', body: (s) => JSON.stringify({ name: `bad-${s}`, extra: 1, spec: { address: 'nope', port: '80' } }), status: 400 },
  { title: 'an array body', body: () => '[1,2]', status: 400 },
  { title: 'a JSON string body', body: () => '"text"', status: 400 },
  { title: 'a null body', body: () => 'null', status: 400 },
  { title: 'malformed JSON', body: () => '{"spec":', status: 400 },
  { title: 'a deeply nested body', body: () => `{"spec":${'['.repeat(40)}${']'.repeat(40)}}`, status: 400 },
  { title: 'no such service', path: () => '/api/v1/services/fp-missing/endpoints', body: (s) => ep(`orphan-${s}`), status: 404 },
  { title: 'a name that exists', body: (s) => ep(`taken-${s}`), status: 409 },
  { title: 'the name of a heartbeat endpoint', body: (s) => ep(`hbtaken-${s}`), status: 409 },
  { title: 'If-Match on a create', body: (s) => ep(`cond-${s}`), headers: { 'if-match': '"1"' }, status: 412 },
  { title: 'a malformed If-Match', body: (s) => ep(`cond2-${s}`), headers: { 'if-match': 'nonsense' }, status: 400 },
  { title: 'no credentials', body: (s) => ep(`anon-${s}`), headers: { authorization: '' }, status: 401 },
  { title: 'a wrong token', body: (s) => ep(`wrong-${s}`), headers: { authorization: 'Bearer not-a-token-at-all-0000000000' }, status: 401 },
  { title: 'a viewer token', body: (s) => ep(`viewer-${s}`), headers: { authorization: 'VIEWER' }, status: 403 },
  { title: 'a heartbeat renewal', method: 'PUT', path: (s) => `/api/v1/services/fp/endpoints/hb-${s}/heartbeat`, body: () => undefined, status: 200 },
  { title: 'a heartbeat of an unknown endpoint', method: 'PUT', path: (s) => `/api/v1/services/fp/endpoints/never-${s}/heartbeat`, body: () => undefined, status: 404 },
];

describe('REST fast paths answer as the Nest routes do', () => {
  let app: TestApp;
  let viewer: string;
  const admin = bearer(ADMIN);

  const fastCount = async (route: string): Promise<number> => {
    const text = (await app.http('GET', '/metrics')).text;
    const line = text.split('\n').find((l) => l.startsWith(`switchyard_http_fast_path_requests_total{route="${route}"}`));
    return line ? Number(line.split(' ').pop()) : 0;
  };

  before(async () => {
    app = await startTestApp('pglite', { AUTH_MODE: 'token', ADMIN_TOKEN: ADMIN, AUTH_RATE_LIMIT_RPS: '0' });
    viewer = `Bearer ${(await createToken(app, { name: 'fp-viewer', roles: ['viewer'] })).secret}`;
    assert.equal((await app.http('POST', '/api/v1/services', { name: 'fp', spec: { protocol: 'http', port: 80 } }, admin)).status, 201);
    for (const s of ['f', 'n']) {
      assert.equal((await app.http('POST', '/api/v1/services/fp/endpoints', JSON.parse(ep(`taken-${s}`)), admin)).status, 201);
      assert.equal((await app.http('POST', '/api/v1/services/fp/endpoints', JSON.parse(ep(`hbtaken-${s}`, { ttlSeconds: 60 })), admin)).status, 201);
    }
  });
  after(() => app?.stop());

  for (const c of CASES) {
    it(c.title, async () => {
      const method = c.method ?? 'POST';
      const path = c.path ?? (() => '/api/v1/services/fp/endpoints');
      const route = method === 'PUT' ? '/api/v1/services/:service/endpoints/:name/heartbeat' : '/api/v1/services/:service/endpoints';
      const headers: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': 'fp-request', ...admin, ...(c.headers ?? {}) };
      if (headers.authorization === 'VIEWER') headers.authorization = viewer;
      if (headers.authorization === '') delete headers.authorization;

      const before0 = await fastCount(route);
      const fast = await send(app, method, path('f'), c.body('f'), headers, false);
      const before1 = await fastCount(route);
      assert.equal(before1, before0 + 1, 'the Content-Length request took the fast path');
      const nest = await send(app, method, path('n'), c.body('n'), headers, true);
      assert.equal(await fastCount(route), before1, 'the chunked request went through Nest');

      assert.equal(fast.status, c.status, fast.text);
      assert.deepEqual(comparable(fast, 'f'), comparable(nest, 'n'));
    });
  }

  it('a registration through the fast path is stored, logged and audited as through Nest', async () => {
    for (const s of ['f', 'n'] as const) {
      const r = await app.http('GET', `/api/v1/services/fp/endpoints/actor-${s}`, undefined, admin);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.body.labels, { tier: 'web' });
      // The token is the actor; the declared X-Switchyard-Actor is kept as the comment.
      assert.equal(r.body.status.health.setBy, 'token:ADMIN_TOKEN');
    }
    const changes = (await app.http('GET', '/api/v1/changes?since=0&limit=1000', undefined, admin)).body.changes as { name: string; actor: string; comment?: string }[];
    const byName = (n: string) => changes.find((c) => c.name === n);
    assert.deepEqual([byName('actor-f')?.actor, byName('actor-f')?.comment], [byName('actor-n')?.actor, byName('actor-n')?.comment]);
    assert.equal(byName('actor-f')?.comment, 'deployer');
    // The audit trail records the request id of both (it is written in batches, in the background).
    let audited: { name?: string; requestId?: string }[] = [];
    for (let i = 0; i < 100; i++) {
      audited = (await app.http('GET', '/api/v1/audit?kind=Endpoint&limit=1000', undefined, admin)).body.items;
      if (audited.some((e) => e.name === 'actor-f') && audited.some((e) => e.name === 'actor-n')) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const n of ['actor-f', 'actor-n']) assert.equal(audited.find((e) => e.name === n)?.requestId, 'fp-request', n);
  });

  it('leaves other content types, charsets, encodings and query strings to Nest', async () => {
    const route = '/api/v1/services/:service/endpoints';
    const start = await fastCount(route);
    const h = { ...admin, 'x-request-id': 'fp-other' };
    const cases: [string, Record<string, string>, number][] = [
      ['/api/v1/services/fp/endpoints', { ...h, 'content-type': 'text/plain' }, 415],
      ['/api/v1/services/fp/endpoints', { ...h, 'content-type': 'application/json; charset=latin1' }, 415],
      // Not brotli at all: body-parser's decompression fails.
      ['/api/v1/services/fp/endpoints', { ...h, 'content-type': 'application/json', 'content-encoding': 'br' }, 400],
      ['/api/v1/services/fp/endpoints?x=1', { ...h, 'content-type': 'application/json' }, 201],
      ['/api/v1/services/fp/endpoints', { ...h, 'content-type': 'application/merge-patch+json' }, 201],
    ];
    for (const [i, [path, headers, status]] of cases.entries()) {
      const r = await send(app, 'POST', path, ep(`other-${i}`), headers, false);
      assert.equal(r.status, status, `${path} ${JSON.stringify(headers)}: ${r.text}`);
    }
    assert.equal(await fastCount(route), start);
  });
});
