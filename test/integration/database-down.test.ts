import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { startTestApp, type TestApp } from '../support/app.js';
import { echoService } from '../support/fixtures.js';
import { registryClient, unary } from '../support/grpc.js';
import { bringUp, takeDown } from '../support/postgres.js';

describe('when PostgreSQL is unreachable', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp('postgres');
  });
  after(async () => {
    await app?.stop();
  });

  it('readiness fails, writes answer 503 / UNAVAILABLE, nothing is half-written, and it recovers', async () => {
    assert.equal((await app.http('POST', '/api/v1/services', echoService())).status, 201);
    const ready = await app.http('GET', '/ready');
    assert.equal(ready.status, 200);
    assert.equal(ready.body.details.database.status, 'up');
    assert.equal(ready.body.details.migrations.status, 'up');

    await takeDown(app.db!);
    const notReady = await app.http('GET', '/ready');
    assert.equal(notReady.status, 503);
    assert.equal(notReady.body.details.database.status, 'down');
    assert.equal((await app.http('GET', '/health')).status, 200, 'liveness is not about the database');

    const write = await app.http('PUT', '/api/v1/services/echo', echoService({ port: 1 }));
    assert.equal(write.status, 503, write.text);
    assert.match(write.body.message, /database unavailable/);
    assert.equal(write.headers.get('retry-after'), '1');
    // Registrations are group committed: a whole batch of them meets the dead database, and each answers 503.
    const registrations = await Promise.all(
      Array.from({ length: 10 }, (_, i) => app.http('POST', '/api/v1/services/echo/endpoints', { name: `down-${i}`, spec: { address: '10.0.0.1', port: 8080 } })),
    );
    for (const r of registrations) {
      assert.equal(r.status, 503, r.text);
      assert.equal(r.headers.get('retry-after'), '1');
    }

    const client = registryClient(app.grpcPort);
    await assert.rejects(unary(client, 'Get', { key: { kind: 'Service', name: 'echo' } }), (e: grpc.ServiceError) => e.code === grpc.status.UNAVAILABLE);
    client.close();

    await bringUp(app.db!);
    let ok = false;
    for (let i = 0; i < 50 && !ok; i++) {
      ok = (await app.http('GET', '/ready')).status === 200;
      if (!ok) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(ok, 'ready again once the database is back');
    const svc = await app.http('GET', '/api/v1/services/echo');
    assert.equal(svc.body.version, 1, 'the failed write left nothing behind');
    assert.equal(svc.body.spec.port, 50051);
    assert.deepEqual((await app.http('GET', '/api/v1/services/echo/endpoints')).body.items, [], 'no registration made while down was half-applied');
    assert.equal((await app.http('PUT', '/api/v1/services/echo', echoService({ port: 2 }))).status, 200);
  });
});
