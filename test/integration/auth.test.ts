import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { ConfigClient, registerInstance } from '../../src/client/index.js';
import { PACKAGE_ROOT } from '../../src/common/paths.js';
import { loadConfig } from '../../src/config/config.js';
import { request, startTestApp, type TestApp } from '../support/app.js';
import { ADMIN, bearer, createToken, grpcCall, metadata } from '../support/auth.js';
import { echoService } from '../support/fixtures.js';
import { configsClient, registryClient, struct } from '../support/grpc.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

const ISSUER = 'https://issuer.test';
const AUDIENCE = 'switchyard';
const service = (name: string) => ({ ...echoService(), name });
const heartbeat = (svc: string, name: string) => ({ name, spec: { address: '10.0.0.1', port: 8080, ttlSeconds: 30 } });

/** A JWKS endpoint, as an OIDC provider serves it, with one key. */
async function jwksServer(jwk: JWK): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    res.writeHead(req.url === '/jwks' ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(req.url === '/jwks' ? { keys: [jwk] } : {}));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/jwks`, server };
}

describe('API authentication (AUTH_MODE=token)', () => {
  let app: TestApp;
  let jwks: { url: string; server: Server };
  let keys: Awaited<ReturnType<typeof generateKeyPair>>;
  let registry: any;
  let configs: any;
  const jwt = (claims: Record<string, unknown>, o: { exp?: string | number; aud?: string; key?: CryptoKey } = {}) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer(ISSUER)
      .setAudience(o.aud ?? AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(o.exp ?? '5m')
      .sign(o.key ?? keys.privateKey);

  before(async () => {
    keys = await generateKeyPair('ES256');
    jwks = await jwksServer({ ...(await exportJWK(keys.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' });
    app = await startTestApp('postgres', { AUTH_MODE: 'token', ADMIN_TOKEN: ADMIN, AUTH_RATE_LIMIT_RPS: '0', OIDC_JWKS_URL: jwks.url, OIDC_ISSUER: ISSUER, OIDC_AUDIENCE: AUDIENCE, OIDC_ROLES_CLAIM: 'realm_access.roles' });
    registry = registryClient(app.grpcPort);
    configs = configsClient(app.grpcPort);
    for (const s of ['svc-a', 'svc-b']) assert.equal((await app.http('POST', '/api/v1/services', service(s), bearer(ADMIN))).status, 201);
  });
  after(async () => {
    registry?.close();
    configs?.close();
    await app?.stop();
    jwks?.server.close();
  });

  it('a token body with server-owned or unknown fields is 400; the secret is shown once and never stored', async () => {
    for (const extra of [{ id: 'x' }, { secret: 'sy_x' }, { createdBy: 'me' }, { createdAt: '2020-01-01T00:00:00Z' }, { hash: 'x' }, { admin: true }, { scopes: { kinds: ['Route'], everything: true } }]) {
      const res = await app.http('POST', '/api/v1/tokens', { name: 'mass', roles: ['viewer'], ...extra }, bearer(ADMIN));
      assert.equal(res.status, 400, `${JSON.stringify(extra)}: ${res.text}`);
      assert.ok(res.body.violations.some((v: { message: string }) => v.message === 'unknown field'), res.text);
    }
    for (const bad of [{ name: 'x', roles: ['root'] }, { name: 'x', roles: [] }, { name: 'X Y', roles: ['viewer'] }, { name: 'x', roles: ['viewer'], expiresAt: '2001-01-01T00:00:00Z' }, { name: 'x', roles: ['viewer'], scopes: { kinds: ['Nope'] } }])
      assert.equal((await app.http('POST', '/api/v1/tokens', bad, bearer(ADMIN))).status, 400, JSON.stringify(bad));
    const t = await createToken(app, { name: 'shown-once', roles: ['viewer'] });
    assert.match(t.secret, /^sy_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    const list = await app.http('GET', '/api/v1/tokens', undefined, bearer(ADMIN));
    const row = list.body.items.find((i: { name: string }) => i.name === 'shown-once');
    assert.deepEqual(Object.keys(row).sort(), ['createdAt', 'createdBy', 'id', 'name', 'roles', 'scopes']);
    assert.equal(row.createdBy, 'token:ADMIN_TOKEN');
    const stored = await app.app.get((await import('../../src/database/database.js')).Database).dataSource.query(`SELECT * FROM "tokens" WHERE "name" = 'shown-once'`);
    // The random part is base64url, so it may hold '_' itself: everything after `sy_<id>_`.
    const random = t.secret.slice('sy_'.length + 16 + 1);
    assert.equal(random.length, 43);
    assert.ok(!JSON.stringify(stored).includes(random), 'the table holds no secret');
    assert.equal((await app.http('POST', '/api/v1/tokens', { name: 'shown-once', roles: ['viewer'] }, bearer(ADMIN))).status, 409);
  });

  it('an editor cannot create tokens; a token cannot delete itself; a deleted token stops working at once', async () => {
    const editor = await createToken(app, { name: 'an-editor', roles: ['editor'] });
    const res = await app.http('POST', '/api/v1/tokens', { name: 'escalate', roles: ['admin'] }, bearer(editor.secret));
    assert.equal(res.status, 403);
    assert.match(res.body.message, /needs the admin role/);
    const admin2 = await createToken(app, { name: 'second-admin', roles: ['admin'] });
    assert.equal((await app.http('DELETE', `/api/v1/tokens/${admin2.id}`, undefined, bearer(admin2.secret))).status, 409);
    assert.equal((await app.http('GET', '/api/v1/services', undefined, bearer(editor.secret))).status, 200);
    assert.equal((await app.http('DELETE', `/api/v1/tokens/${editor.id}`, undefined, bearer(admin2.secret))).status, 200);
    const gone = await app.http('GET', '/api/v1/services', undefined, bearer(editor.secret));
    assert.equal(gone.status, 401);
    assert.equal(gone.headers.get('www-authenticate'), 'Bearer realm="switchyard"');
    assert.equal((await app.http('DELETE', `/api/v1/tokens/${editor.id}`, undefined, bearer(ADMIN))).status, 404);
  });

  it('a registration token for service A registers, heartbeats and drains A only', async () => {
    const reg = await createToken(app, { name: 'reg-a', roles: ['operator'], scopes: { services: ['svc-a'] } });
    const h = bearer(reg.secret);
    // The heartbeat fast path (JSON body, ahead of Express) and the Nest routes.
    assert.equal((await app.http('PUT', '/api/v1/services/svc-a/endpoints/a-1/heartbeat', heartbeat('svc-a', 'a-1'), h)).status, 200);
    assert.equal((await app.http('PUT', '/api/v1/services/svc-b/endpoints/b-1/heartbeat', heartbeat('svc-b', 'b-1'), h)).status, 403);
    const durable = { spec: { address: '10.0.0.2', port: 8080 } };
    assert.equal((await app.http('POST', '/api/v1/services/svc-a/endpoints', { ...durable, name: 'a-2' }, h)).status, 201);
    assert.equal((await app.http('POST', '/api/v1/services/svc-b/endpoints', { ...durable, name: 'b-2' }, h)).status, 403);
    const drain = { spec: { health: 'draining' } };
    assert.equal((await app.http('PATCH', '/api/v1/services/svc-a/endpoints/a-2', drain, { ...h, 'content-type': 'application/merge-patch+json' })).status, 200);
    assert.equal((await app.http('GET', '/api/v1/services/svc-a/endpoints', undefined, h)).status, 200);
    for (const [m, url] of [['GET', '/api/v1/services/svc-b/endpoints'], ['GET', '/api/v1/routes'], ['GET', '/api/v1/changes'], ['PUT', '/api/v1/services/svc-a']] as const)
      assert.equal((await app.http(m, url, m === 'PUT' ? service('svc-a') : undefined, h)).status, 403, `${m} ${url}`);
    // gRPC too.
    assert.equal((await grpcCall(registry, 'Delete', { key: { kind: 'Endpoint', service: 'svc-b', name: 'x' } }, metadata(`Bearer ${reg.secret}`))).code, grpc.status.PERMISSION_DENIED);
    assert.equal((await grpcCall(registry, 'Delete', { key: { kind: 'Endpoint', service: 'svc-a', name: 'a-2' } }, metadata(`Bearer ${reg.secret}`))).code, grpc.status.OK);
  });

  it('kind and namespace scopes narrow REST and gRPC', async () => {
    const shop = await createToken(app, { name: 'shop-editor', roles: ['editor'], scopes: { namespaces: ['shop'] } });
    const h = bearer(shop.secret);
    const cfg = { format: 'json', content: '{"a":1}' };
    assert.equal((await app.http('PUT', '/api/v1/configs/shop/app/flags', { spec: cfg }, h)).status, 200);
    assert.equal((await app.http('PUT', '/api/v1/configs/other/app/flags', { spec: cfg }, h)).status, 403);
    assert.equal((await app.http('GET', '/api/v1/configs?namespace=shop', undefined, h)).status, 200);
    assert.equal((await app.http('GET', '/api/v1/configs', undefined, h)).status, 403, 'every namespace is not within the scope');
    assert.equal((await app.http('POST', '/api/v1/services', service('svc-c'), h)).status, 403);
    const apply = (docs: unknown[]) => app.http('POST', '/api/v1/apply', docs, h);
    assert.equal((await apply([{ kind: 'Config', namespace: 'shop', group: 'app', name: 'more', spec: cfg }])).status, 200);
    assert.equal((await apply([{ kind: 'Config', namespace: 'shop', group: 'app', name: 'more2', spec: cfg }, service('svc-c')])).status, 403);
    const yaml = 'kind: Config\nnamespace: other\ngroup: app\nname: sneaky\nspec: {format: text, content: x}\n';
    assert.equal((await app.http('POST', '/api/v1/apply', yaml, { ...h, 'content-type': 'application/yaml' })).status, 403);
    const md = metadata(`Bearer ${shop.secret}`);
    assert.equal((await grpcCall(configs, 'Get', { key: { namespace: 'shop', group: 'app', name: 'flags' } }, md)).code, grpc.status.OK);
    assert.equal((await grpcCall(configs, 'Get', { key: { namespace: 'other', group: 'app', name: 'flags' } }, md)).code, grpc.status.PERMISSION_DENIED);

    const routes = await createToken(app, { name: 'route-editor', roles: ['editor'], scopes: { kinds: ['Route'] } });
    assert.equal((await app.http('GET', '/api/v1/routes', undefined, bearer(routes.secret))).status, 200);
    assert.equal((await app.http('GET', '/api/v1/services', undefined, bearer(routes.secret))).status, 403);
    assert.equal((await grpcCall(registry, 'Create', { resource: { kind: 'Service', name: 'svc-d', spec: struct(service('svc-d').spec) } }, metadata(`Bearer ${routes.secret}`))).code, grpc.status.PERMISSION_DENIED);
  });

  it('a gRPC Watch ends with UNAUTHENTICATED when its token expires', async () => {
    assert.equal((await app.http('PUT', '/api/v1/configs/exp/app/flags', { spec: { format: 'text', content: 'x' } }, bearer(ADMIN))).status, 200);
    const expiresAt = Date.now() + 1500;
    const t = await createToken(app, { name: 'short-lived', roles: ['viewer'], expiresAt: new Date(expiresAt).toISOString() });
    const call = configs.Watch({ namespace: 'exp', group: 'app' }, metadata(`Bearer ${t.secret}`));
    let messages = 0;
    call.on('data', () => messages++);
    const err: grpc.ServiceError = await new Promise((resolve) => call.on('error', resolve));
    assert.equal(err.code, grpc.status.UNAUTHENTICATED);
    assert.ok(messages >= 1, 'it streamed until then');
    assert.ok(Date.now() >= expiresAt - 50);
  });

  it('the change log names the authenticated identity; X-Switchyard-Actor becomes the comment', async () => {
    const ed = await createToken(app, { name: 'deployer', roles: ['editor'] });
    const created = await app.http('POST', '/api/v1/services', service('svc-actor'), { ...bearer(ed.secret), 'x-switchyard-actor': 'rollout/pretend' });
    assert.equal(created.status, 201);
    await grpcCall(registry, 'Update', { resource: { kind: 'Service', name: 'svc-actor', spec: struct({ ...service('svc-actor').spec, port: 9 }) } }, metadata(`Bearer ${ed.secret}`, 'alice'));
    await grpcCall(registry, 'Delete', { key: { kind: 'Service', name: 'svc-actor' } }, metadata(`Bearer ${ed.secret}`));
    const log = await app.http('GET', '/api/v1/changes?since=0&limit=1000', undefined, bearer(ADMIN));
    const mine = log.body.changes.filter((c: { kind: string; name: string }) => c.kind === 'Service' && c.name === 'svc-actor');
    assert.deepEqual(mine.map((c: { op: string; actor: string; comment?: string }) => [c.op, c.actor, c.comment]), [
      ['create', 'token:deployer', 'rollout/pretend'],
      ['update', 'token:deployer', 'alice'],
      ['delete', 'token:deployer', undefined],
    ]);
    const viaGrpc = await grpcCall(registry, 'ListChanges', { since: 0, limit: 1000 }, metadata(`Bearer ${ADMIN}`));
    const c = viaGrpc.res.changes.find((x: { name: string; op: string }) => x.name === 'svc-actor' && x.op === 'create');
    assert.equal(c.actor, 'token:deployer');
    assert.equal(c.comment, 'rollout/pretend');
  });

  it('the client library sends its token: registerInstance and ConfigClient over gRPC and HTTP', async () => {
    const reg = await createToken(app, { name: 'client-reg', roles: ['operator'], scopes: { services: ['svc-a'] } });
    const r = await registerInstance({ server: app.base, service: 'svc-a', name: 'lib-1', address: '10.0.0.9', port: 80, token: reg.secret, handleSignals: false });
    const eps = await app.http('GET', '/api/v1/services/svc-a/endpoints', undefined, bearer(ADMIN));
    assert.ok(eps.body.items.some((e: { name: string }) => e.name === 'lib-1'));
    await r.deregister();
    await assert.rejects(registerInstance({ server: app.base, service: 'svc-b', name: 'lib-2', address: '10.0.0.9', port: 80, token: reg.secret, handleSignals: false }), /HTTP 403/);

    assert.equal((await app.http('PUT', '/api/v1/configs/lib/app/flags', { spec: { format: 'json', content: '{"on":true}' } }, bearer(ADMIN))).status, 200);
    const watcher = await createToken(app, { name: 'lib-watch', roles: ['viewer'], scopes: { namespaces: ['lib'] } });
    for (const [transport, server] of [['grpc', `127.0.0.1:${app.grpcPort}`], ['http', app.base]] as const) {
      const c = new ConfigClient({ servers: [server], transport, namespace: 'lib', group: 'app', token: watcher.secret, startTimeoutMs: 5000 });
      try {
        await c.start();
        assert.ok(c.synced, transport);
        assert.equal(c.get('flags')?.content, '{"on":true}', transport);
      } finally {
        await c.close();
      }
    }
  });

  it('every refused call is an audit event (admins read them; others may not)', async () => {
    assert.equal((await app.http('DELETE', '/api/v1/services/svc-a', undefined, bearer('sy_nope_nope'))).status, 401);
    const viewer = await createToken(app, { name: 'audit-viewer', roles: ['viewer'] });
    assert.equal((await app.http('GET', '/api/v1/audit', undefined, bearer(viewer.secret))).status, 403);
    assert.equal((await grpcCall(registry, 'Get', { key: { kind: 'Service', name: 'svc-a' } }, metadata('Bearer nope'))).code, grpc.status.UNAUTHENTICATED);
    for (let i = 0; ; i++) {
      const audit = await app.http('GET', '/api/v1/audit?type=auth_failure&limit=1000', undefined, bearer(ADMIN));
      assert.equal(audit.status, 200, audit.text);
      const seen = audit.body.items.map((e: any) => `${e.method} ${e.path} ${String(e.reason).split(':')[0]}`);
      if (seen.includes('DELETE /api/v1/services/:name unauthenticated') && seen.includes('GET /api/v1/audit forbidden') && seen.includes('gRPC Registry/Get unauthenticated')) break;
      assert.ok(i < 50, JSON.stringify(seen));
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  it('accepts JWTs signed by the OIDC provider\'s keys, with roles from a claim', async () => {
    const editor = await jwt({ sub: 'alice', realm_access: { roles: ['editor', 'something-else'] } });
    const res = await app.http('POST', '/api/v1/services', service('svc-jwt'), bearer(editor));
    assert.equal(res.status, 201, res.text);
    const log = await app.http('GET', '/api/v1/changes?since=0&limit=1000', undefined, bearer(editor));
    assert.equal(log.body.changes.find((c: { name: string }) => c.name === 'svc-jwt').actor, 'jwt:alice');
    assert.equal((await grpcCall(registry, 'Get', { key: { kind: 'Service', name: 'svc-jwt' } }, metadata(`Bearer ${editor}`))).code, grpc.status.OK);

    const viewer = await jwt({ sub: 'bob', realm_access: { roles: ['viewer'] } });
    assert.equal((await app.http('DELETE', '/api/v1/services/svc-jwt', undefined, bearer(viewer))).status, 403);
    const noRoles = await jwt({ sub: 'carol' });
    assert.equal((await app.http('GET', '/api/v1/services', undefined, bearer(noRoles))).status, 403);
    const other = await generateKeyPair('ES256');
    for (const [why, token] of [
      ['expired', await jwt({ sub: 'alice', realm_access: { roles: ['admin'] } }, { exp: Math.floor(Date.now() / 1000) - 60 })],
      ['wrong audience', await jwt({ sub: 'alice', realm_access: { roles: ['admin'] } }, { aud: 'someone-else' })],
      ['another key', await jwt({ sub: 'alice', realm_access: { roles: ['admin'] } }, { key: other.privateKey })],
      ['tampered', `${editor.slice(0, -4)}AAAA`],
    ]) {
      const r = await app.http('GET', '/api/v1/services', undefined, bearer(token));
      assert.equal(r.status, 401, `${why}: ${r.text}`);
    }
  });
});

describe('per-token rate limit', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp('pglite', { AUTH_MODE: 'token', ADMIN_TOKEN: ADMIN, AUTH_RATE_LIMIT_RPS: '1', AUTH_RATE_LIMIT_BURST: '3' });
  });
  after(() => app?.stop());

  it('answers 429 with Retry-After past the burst (RESOURCE_EXHAUSTED over gRPC), per identity', async () => {
    const statuses: number[] = [];
    let last;
    for (let i = 0; i < 5; i++) {
      last = await app.http('GET', '/api/v1/services', undefined, bearer(ADMIN));
      statuses.push(last.status);
    }
    assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
    assert.ok(Number(last!.headers.get('retry-after')) >= 1, 'Retry-After');
    const client = registryClient(app.grpcPort);
    try {
      assert.equal((await grpcCall(client, 'List', { kind: 'Service' }, metadata(`Bearer ${ADMIN}`))).code, grpc.status.RESOURCE_EXHAUSTED);
    } finally {
      client.close();
    }
    // Open routes are not counted, and nothing is charged to callers without a token.
    assert.equal((await app.http('GET', '/health')).status, 200);
    assert.equal((await app.http('GET', '/api/v1/services')).status, 401);
  });
});

describe('AUTH_MODE=none', () => {
  it('is the default on a loopback HOST only, and refused on any other', () => {
    assert.equal(loadConfig({}).HOST, '127.0.0.1');
    assert.equal(loadConfig({}).AUTH_MODE, 'none');
    assert.equal(loadConfig({ HOST: '::1' }).AUTH_MODE, 'none');
    assert.equal(loadConfig({ HOST: '0.0.0.0' }).AUTH_MODE, 'token');
    assert.throws(() => loadConfig({ HOST: '10.1.2.3', AUTH_MODE: 'none' }), /AUTH_MODE="none": only allowed when HOST is a loopback address/);
    assert.throws(() => loadConfig({ ADMIN_TOKEN: 'short' }), /ADMIN_TOKEN/);
  });

  it('keeps the header as the actor, without rate limits', async () => {
    const app = await startTestApp('pglite', { AUTH_RATE_LIMIT_RPS: '1', AUTH_RATE_LIMIT_BURST: '1' });
    try {
      assert.equal((await app.http('POST', '/api/v1/services', service('svc-n'), { 'x-switchyard-actor': 'bob' })).status, 201);
      for (let i = 0; i < 5; i++) assert.equal((await app.http('GET', '/api/v1/services')).status, 200);
      const c = (await app.http('GET', '/api/v1/changes')).body.changes.at(-1);
      assert.equal(c.actor, 'bob');
      assert.equal(c.comment, undefined);
    } finally {
      await app.stop();
    }
  });
});

describe('tokens on the embedded database (PGlite)', () => {
  it('the embedded database holds tokens too: a first start there generates the admin token', async () => {
    const app = await startTestApp('pglite', { AUTH_MODE: 'token' });
    try {
      const { Database } = await import('../../src/database/database.js');
      const rows = await app.app.get(Database).dataSource.query(`SELECT "name", "roles", "created_by" FROM "tokens"`);
      assert.equal(rows.length, 1);
      assert.match(rows[0].name, /^bootstrap-[0-9a-f]{16}$/);
      assert.deepEqual([rows[0].roles, rows[0].created_by], [['admin'], 'switchyard']);
      assert.equal((await app.http('GET', '/api/v1/services')).status, 401);
    } finally {
      await app.stop();
    }
  });
});

describe('the switchyard process', () => {
  const MAIN = join(PACKAGE_ROOT, 'build/src/main.js');
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(() => db?.drop());

  /** Runs main.js until it says where it listens (or exits); returns its output and the REST port. */
  function run(env: Record<string, string>): Promise<{ out: string; code: number | null; port?: number; output: () => string; stop: () => Promise<void> }> {
    const { DATABASE_URL: _d, ADMIN_TOKEN: _a, AUTH_MODE: _m, ...base } = process.env;
    const child = spawn(process.execPath, [MAIN], { env: { ...base, PORT: '0', GRPC_PORT: '0', XDS_PORT: '0', LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const stop = async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    };
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve({ out, code: null, output: () => out, stop });
      }, 30000);
      const onData = (d: Buffer) => {
        out += d;
        const m = /switchyard: REST on [^:]+:(\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve({ out, code: null, port: Number(m[1]), output: () => out, stop });
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      void exited.then((code) => {
        clearTimeout(timer);
        resolve({ out, code, output: () => out, stop });
      });
    });
  }

  it('refuses AUTH_MODE=none on a non-loopback HOST at boot', async () => {
    const p = await run({ HOST: '0.0.0.0', AUTH_MODE: 'none', DATA_DIR: 'memory://' });
    assert.equal(p.code, 2, p.out);
    assert.match(p.out, /AUTH_MODE="none": only allowed when HOST is a loopback address \(HOST="0\.0\.0\.0"\)/);
  });

  it('prints a generated admin token once, at the first start without any', async () => {
    const env = { HOST: '127.0.0.1', AUTH_MODE: 'token', DATABASE_URL: db.url };
    const first = await run(env);
    try {
      assert.ok(first.port, first.out);
      // The log (stdout) may come after the listening line (stderr): ask the server once it surely logged.
      for (let i = 0; i < 50 && !/ADMIN_TOKEN: sy_/.test(first.output()); i++) await new Promise((r) => setTimeout(r, 100));
      const secrets = first.output().match(/sy_[0-9a-f]{16}_[A-Za-z0-9_-]{43}/g) ?? [];
      assert.equal(secrets.length, 1, first.output());
      assert.match(first.output(), /"level":40.*created admin token \\"bootstrap-[0-9a-f]{16}\\"/);
      const res = await request(`http://127.0.0.1:${first.port}`, 'GET', '/api/v1/tokens', undefined, bearer(secrets[0]));
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.items.length, 1);
    } finally {
      await first.stop();
    }
    const second = await run(env);
    try {
      assert.ok(second.port, second.out);
      await new Promise((r) => setTimeout(r, 1000));
      assert.doesNotMatch(second.output(), /sy_[0-9a-f]{16}_|admin token/);
    } finally {
      await second.stop();
    }
  });
});
