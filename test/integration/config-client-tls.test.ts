import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { ConfigClient } from '../../src/client/index.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { TestPki } from '../support/tls.js';

describe('config client over TLS', () => {
  let pki: TestPki;
  let app: TestApp;
  before(async () => {
    pki = await TestPki.create();
    const files = pki.write('server', await pki.server());
    app = await startTestApp('pglite', { XDS_DEBOUNCE_QUIET_MS: '10', TLS_CERT_FILE: files.cert, TLS_KEY_FILE: files.key });
  });
  after(async () => {
    await app?.stop();
    pki?.cleanup();
  });

  it('watches over gRPC with TLS, trusting the given CA; without the CA it never syncs', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const body = JSON.stringify({ spec: { format: 'json', content: '{"pool": 5}' } });
      const req = request(
        { host: '127.0.0.1', port: app.httpPort, method: 'PUT', path: '/api/v1/configs/prod/shop/app.json', ca: readFileSync(pki.caFile), servername: 'localhost', headers: { 'content-type': 'application/json' } },
        (res) => {
          res.resume();
          resolve(res.statusCode!);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    assert.equal(status, 200);
    const trusted = new ConfigClient({ servers: [`127.0.0.1:${app.grpcPort}`], namespace: 'prod', group: 'shop', tls: { caFile: pki.caFile }, startTimeoutMs: 5000 });
    const untrusted = new ConfigClient({ servers: [`127.0.0.1:${app.grpcPort}`], namespace: 'prod', group: 'shop', tls: {}, startTimeoutMs: 1500, backoff: { initialMs: 100, maxMs: 200 } });
    try {
      await Promise.all([trusted.start(), untrusted.start()]);
      assert.equal(trusted.synced, true);
      assert.equal(untrusted.synced, false);
      assert.equal(untrusted.get('app.json'), undefined);
      assert.deepEqual(trusted.get('app.json')!.parsed(), { pool: 5 });
    } finally {
      await trusted.close();
      await untrusted.close();
    }
  });
});
