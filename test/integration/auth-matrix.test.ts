import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { GRPC_POLICY, REST_POLICY, restPolicy } from '../../src/auth/policy.js';
import { levelOf, type Role } from '../../src/auth/roles.js';
import { configDefinition } from '../../src/config-centre/codec.js';
import { loadRegistryProto } from '../../src/registry/grpc/registry.grpc-server.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { ADMIN, bearer, createToken, grpcCall, grpcStream, metadata } from '../support/auth.js';
import { configsClient, registryClient, struct } from '../support/grpc.js';

/*
 * The authorization matrix: every route Express serves and every RPC of
 * switchyard.v1.Registry and switchyard.v1.Configs, called by every role and
 * by every kind of bad credential. Routes and RPCs are enumerated from the
 * running server and the protos, so a new one is in the matrix (and must have
 * a policy) without anyone editing this file. The expected role of each comes
 * from the rules below, written apart from src/auth/policy.ts, so a wrong entry
 * there shows up as a failure here.
 */

type Expect = Role | 'public';
const ROLE_NAMES: Role[] = ['viewer', 'operator', 'editor', 'admin'];
const BAD = ['no token', 'expired token', 'malformed token', 'unknown token', 'not bearer'] as const;

/** What each REST route needs, by the README's roles table. */
function expectedRole(method: string, path: string): Expect {
  if (['/health', '/ready', '/metrics', '/', '/ui/'].includes(path)) return 'public';
  if (path.startsWith('/api/v1/tokens') || path === '/api/v1/audit') return 'admin';
  // An instance that may read a config reports what it applied.
  if (path.endsWith('/ack')) return 'viewer';
  if (method === 'GET') return 'viewer';
  if (path.startsWith('/api/v1/services/:service/endpoints')) return 'operator';
  if (path === '/api/v1/rollouts/:name/:action') return 'operator';
  return 'editor';
}

/** A dummy request per RPC and what it needs; an RPC missing here fails the suite (add it). */
const RPCS: Record<string, { req: unknown; role: Role }[]> = {
  'Registry/Get': [{ req: { key: { kind: 'Service', name: 'nope' } }, role: 'viewer' }],
  'Registry/List': [{ req: { kind: 'Service' }, role: 'viewer' }],
  'Registry/Create': [
    { req: { resource: { kind: 'Service', name: 'nope', spec: struct({}) } }, role: 'editor' },
    { req: { resource: { kind: 'Endpoint', service: 'nope', name: 'nope', spec: struct({}) } }, role: 'operator' },
  ],
  'Registry/Update': [
    { req: { resource: { kind: 'Route', name: 'nope', spec: struct({}) } }, role: 'editor' },
    { req: { resource: { kind: 'Endpoint', service: 'nope', name: 'nope', spec: struct({}) } }, role: 'operator' },
  ],
  'Registry/Delete': [
    { req: { key: { kind: 'Policy', name: 'nope' } }, role: 'editor' },
    { req: { key: { kind: 'Endpoint', service: 'nope', name: 'nope' } }, role: 'operator' },
  ],
  'Registry/Apply': [{ req: { resources: [] }, role: 'editor' }],
  'Registry/ListChanges': [{ req: { since: 0 }, role: 'viewer' }],
  'Registry/RolloutAction': [{ req: { name: 'nope', action: 'pause' }, role: 'operator' }],
  'Registry/Rollback': [{ req: { toRevision: 0, dryRun: true }, role: 'editor' }],
  'Configs/Get': [{ req: { key: { namespace: 'shop', group: 'app', name: 'nope' } }, role: 'viewer' }],
  'Configs/List': [{ req: { namespace: 'shop' }, role: 'viewer' }],
  'Configs/Ack': [{ req: { key: { namespace: 'shop', group: 'app', name: 'nope' } }, role: 'viewer' }],
  // No group: the server refuses it (INVALID_ARGUMENT) once allowed, instead of streaming forever.
  'Configs/Watch': [{ req: { namespace: 'shop' }, role: 'viewer' }],
};

const PARAMS: Record<string, string> = { service: 'echo', name: 'echo', namespace: 'shop', group: 'app', id: '0000000000000000', action: 'pause', revision: '1' };

/** `METHOD /express/path` of every route the server answers (Nest's and Swagger's). */
function servedRoutes(app: TestApp): { method: string; path: string }[] {
  const express = app.app.getHttpAdapter().getInstance();
  const out = new Map<string, { method: string; path: string }>();
  for (const layer of (express.router ?? express._router).stack as any[]) {
    const path: unknown = layer.route?.path;
    if (typeof path !== 'string') continue;
    for (const [m, on] of Object.entries(layer.route.methods as Record<string, boolean>))
      if (on && m !== '_all') out.set(`${m.toUpperCase()} ${path}`, { method: m.toUpperCase(), path });
  }
  return [...out.values()];
}

const isDocs = (path: string) => path === '/api/docs' || path.startsWith('/api/docs/') || path.startsWith('/api/docs-');

describe('authorization matrix (AUTH_MODE=token)', () => {
  let app: TestApp;
  let registry: any;
  let configs: any;
  const secrets: Record<string, string | undefined> = {};
  const authHeader: Record<string, string | undefined> = {};

  before(async () => {
    app = await startTestApp('postgres', { AUTH_MODE: 'token', ADMIN_TOKEN: ADMIN, AUTH_RATE_LIMIT_RPS: '0' });
    registry = registryClient(app.grpcPort);
    configs = configsClient(app.grpcPort);
    for (const role of ROLE_NAMES) secrets[role] = (await createToken(app, { name: `matrix-${role}`, roles: [role] })).secret;
    const expiresAt = Date.now() + 1200;
    const expired = await createToken(app, { name: 'matrix-expired', roles: ['admin'], expiresAt: new Date(expiresAt).toISOString() });
    for (const role of ROLE_NAMES) authHeader[role] = `Bearer ${secrets[role]}`;
    authHeader['expired token'] = `Bearer ${expired.secret}`;
    authHeader['malformed token'] = 'Bearer not-a-switchyard-token';
    authHeader['unknown token'] = `Bearer sy_0123456789abcdef_${'A'.repeat(43)}`;
    authHeader['not bearer'] = `Basic ${Buffer.from('admin:admin').toString('base64')}`;
    authHeader['no token'] = undefined;
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now()) + 100));
  });
  after(async () => {
    registry?.close();
    configs?.close();
    await app?.stop();
  });

  it('every served route has a policy, and every policy names a served route', () => {
    const served = servedRoutes(app);
    const guarded = served.filter((r) => !isDocs(r.path));
    assert.ok(guarded.length > 50, `only ${guarded.length} routes found`);
    const missing = guarded.filter((r) => !restPolicy(r.method, r.path)).map((r) => `${r.method} ${r.path}`);
    assert.deepEqual(missing, [], 'routes without a policy (add them to src/auth/policy.ts)');
    const keys = new Set(guarded.map((r) => `${r.method} ${r.path}`));
    assert.deepEqual(Object.keys(REST_POLICY).filter((k) => !keys.has(k)), [], 'policies of routes that are not served');
    for (const r of guarded) {
      const p = restPolicy(r.method, r.path)!;
      const want = expectedRole(r.method, r.path);
      assert.equal('public' in p ? 'public' : p.role, want, `${r.method} ${r.path}`);
    }
  });

  it('every RPC of Registry and Configs has a policy and a case here', () => {
    const rpcs = [
      ...Object.keys((loadRegistryProto() as any).switchyard.v1.Registry.service).map((m) => `Registry/${m}`),
      ...Object.keys((grpc.loadPackageDefinition(configDefinition()) as any).switchyard.v1.Configs.service).map((m) => `Configs/${m}`),
    ];
    assert.ok(rpcs.length >= 12);
    assert.deepEqual(rpcs.filter((m) => !GRPC_POLICY[m]).sort(), [], 'RPCs without a policy');
    assert.deepEqual(rpcs.filter((m) => !RPCS[m]).sort(), [], 'RPCs without a case in this matrix');
    assert.deepEqual(Object.keys(GRPC_POLICY).filter((m) => !rpcs.includes(m)), [], 'policies of RPCs that do not exist');
  });

  it('REST: no unauthorized success, no authorized refusal', async () => {
    const problems: string[] = [];
    let calls = 0;
    for (const { method, path } of servedRoutes(app)) {
      const url = path.replace(/:(\w+)/g, (_, p: string) => PARAMS[p] ?? 'x');
      const want = isDocs(path) ? 'public' : expectedRole(method, path);
      const body = ['POST', 'PUT', 'PATCH'].includes(method) ? {} : undefined;
      for (const who of [...ROLE_NAMES, ...BAD]) {
        const h = authHeader[who];
        const res = await app.http(method, url, body, h ? { authorization: h } : {});
        calls++;
        const id = `${method} ${url} as ${who}: ${res.status} ${res.text.slice(0, 160)}`;
        const refused = res.status === 401 || res.status === 403;
        if (want === 'public') {
          if (refused) problems.push(`${id} (open route refused)`);
        } else if ((BAD as readonly string[]).includes(who)) {
          if (res.status !== 401) problems.push(`${id} (expected 401)`);
          else if (res.headers.get('www-authenticate') !== 'Bearer realm="switchyard"') problems.push(`${id} (401 without WWW-Authenticate)`);
        } else if (levelOf([who as Role]) >= levelOf([want])) {
          if (refused) problems.push(`${id} (allowed role refused)`);
        } else if (res.status !== 403) problems.push(`${id} (expected 403)`);
      }
    }
    assert.deepEqual(problems, []);
    assert.ok(calls > 400, `${calls} calls`);
  });

  it('gRPC: no unauthorized success, no authorized refusal (UNAUTHENTICATED vs PERMISSION_DENIED)', async () => {
    const problems: string[] = [];
    const refusedCodes = [grpc.status.UNAUTHENTICATED, grpc.status.PERMISSION_DENIED];
    for (const [rpc, cases] of Object.entries(RPCS)) {
      const [service, method] = rpc.split('/');
      const client = service === 'Registry' ? registry : configs;
      for (const c of cases) {
        for (const who of [...ROLE_NAMES, ...BAD]) {
          const md = metadata(authHeader[who]);
          const out = method === 'Watch' ? await grpcStream(client, method, c.req, md) : await grpcCall(client, method, c.req, md);
          const id = `${rpc} ${JSON.stringify(c.req).slice(0, 80)} as ${who}: ${grpc.status[out.code]} ${out.details ?? ''}`;
          if ((BAD as readonly string[]).includes(who)) {
            if (out.code !== grpc.status.UNAUTHENTICATED) problems.push(`${id} (expected UNAUTHENTICATED)`);
          } else if (levelOf([who as Role]) >= levelOf([c.role])) {
            if (refusedCodes.includes(out.code)) problems.push(`${id} (allowed role refused)`);
          } else if (out.code !== grpc.status.PERMISSION_DENIED) problems.push(`${id} (expected PERMISSION_DENIED)`);
        }
      }
    }
    assert.deepEqual(problems, []);
  });

  it('the OpenAPI document says which operations need a token, and how they refuse', async () => {
    const doc = (await app.http('GET', '/api/docs-json')).body;
    assert.equal(doc.components.securitySchemes.bearer.scheme, 'bearer');
    for (const [path, item] of Object.entries(doc.paths as Record<string, any>)) {
      for (const [method, op] of Object.entries(item as Record<string, any>)) {
        const want = expectedRole(method.toUpperCase(), path.replace(/\{(\w+)\}/g, ':$1'));
        if (want === 'public') assert.deepEqual(op.security, [], `${method} ${path}`);
        else {
          assert.equal(op['x-switchyard-role'], want, `${method} ${path}`);
          for (const code of ['401', '403', '429']) assert.equal(op.responses[code]?.content?.['application/json']?.schema?.$ref, '#/components/schemas/ErrorBodyDto', `${method} ${path} ${code}`);
        }
      }
    }
  });

  it('the heartbeat fast path (ahead of Express) is checked too', async () => {
    const url = '/api/v1/services/echo/endpoints/echo-1/heartbeat';
    assert.equal((await app.http('PUT', url, {})).status, 401);
    assert.equal((await app.http('PUT', url, {}, bearer(secrets.viewer!))).status, 403);
    // Allowed: past the check, the service is unknown.
    assert.equal((await app.http('PUT', url, {}, bearer(secrets.operator!))).status, 404);
  });
});
