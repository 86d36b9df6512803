import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { importSPKI, jwtVerify } from 'jose';
import { FileXdsIdentityResolver, IdentitiesFile, type XdsIdentityResolver, type XdsPeer } from '../../src/security/xds-identity.js';
import { XdsServer } from '../../src/xds/server/xds.server.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { type EchoBackend, startEchoBackend } from '../support/echo-backends.js';
import { echoService } from '../support/fixtures.js';
import { TestPki } from '../support/tls.js';

const CLIENT = join(fileURLToPath(new URL('.', import.meta.url)), '../support/xds-tls-client.js');

/** A Google-style service-account key file: what google_default's call credentials sign with. */
function serviceAccount(dir: string, email: string) {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const file = join(dir, `${email.split('@')[0]}.json`);
  const key = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  writeFileSync(file, JSON.stringify({ type: 'service_account', project_id: 'test', private_key_id: 'k1', private_key: key, client_email: email, client_id: '1' }), { mode: 0o600 });
  return { file, publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

/**
 * What an API-token module would plug into the XdsIdentityResolver port: it
 * verifies the self-signed JWT google_default sends (RS256, iss = sub = the
 * account, aud = https://<xDS host, no port>/<service>) against keys it trusts,
 * and leaves certificates and static tokens to the file resolver.
 */
function jwtResolver(trusted: Record<string, string>, audiencePrefix: string, fallback: XdsIdentityResolver): XdsIdentityResolver {
  return {
    async resolve(peer: XdsPeer) {
      const token = peer.bearerToken;
      if (!token || token.split('.').length !== 3) return fallback.resolve(peer);
      for (const [email, pem] of Object.entries(trusted)) {
        try {
          const { payload } = await jwtVerify(token, await importSPKI(pem, 'RS256'), { issuer: email, subject: email });
          if (!String(payload.aud).startsWith(audiencePrefix)) return { refused: 'bad_token', message: `JWT audience ${payload.aud} is not this server` };
          return { identity: { id: `sa:${email}`, groups: ['proxyless'], via: 'token' } };
        } catch {
          /* not this key */
        }
      }
      return { refused: 'bad_token', message: 'the JWT is signed by no trusted account' };
    },
    anonymousGroups: () => fallback.anonymousGroups(),
  };
}

describe('a real grpc-js-xds client over TLS, identified by the call credentials it can send', () => {
  let pki: TestPki;
  let app: TestApp;
  let backend: EchoBackend;
  let good: { file: string; publicPem: string };
  let bad: { file: string; publicPem: string };

  before(async () => {
    pki = await TestPki.create();
    const server = pki.write('server', await pki.server());
    const ids = join(pki.dir, 'identities.yaml');
    writeFileSync(ids, 'identities: []\n');
    good = serviceAccount(pki.dir, 'mesh-client@test.iam');
    bad = serviceAccount(pki.dir, 'intruder@test.iam');
    app = await startTestApp('pglite', { XDS_DEBOUNCE_QUIET_MS: '20', TLS_CERT_FILE: server.cert, TLS_KEY_FILE: server.key, XDS_AUTH: 'required', XDS_IDENTITIES_FILE: ids });
    const file = new IdentitiesFile(ids);
    // grpc-js drops the port from the audience: https://<host>/<service>.
    app.app.get(XdsServer).gate.useResolver(jwtResolver({ 'mesh-client@test.iam': good.publicPem }, 'https://localhost/envoy.service.', new FileXdsIdentityResolver(file)));
    backend = await startEchoBackend('tls-v1');
    const docs = [
      echoService({ subsets: [] }),
      { kind: 'Endpoint', name: 'tls-v1', service: 'echo', spec: { address: '127.0.0.1', port: backend.port, locality: { region: 'r1', zone: 'z1' } } },
      { kind: 'Route', name: 'echo', spec: { hosts: ['echo'], rules: [{ backends: [{ service: 'echo', weight: 1 }] }] } },
    ];
    const r = await fetchJson('POST', '/api/v1/apply', docs);
    assert.equal(r.status, 200, JSON.stringify(r.body));
  });
  after(async () => {
    await app?.stop();
    await backend?.stop();
    pki?.cleanup();
  });

  /** REST over HTTPS with the test CA (Node's fetch cannot take a CA: use https). */
  async function fetchJson(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const { request } = await import('node:https');
    return new Promise((resolve, reject) => {
      const req = request({ host: 'localhost', port: app.httpPort, path, method, ca: pki.ca.cert, headers: { 'content-type': 'application/json' } }, (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
      });
      req.on('error', reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  }

  function runClient(nodeId: string, credentials: string, deadlineMs = 8000, calls = 20): Promise<{ first: Record<string, number>; rest: Record<string, number> }> {
    const env = {
      ...process.env,
      GRPC_XDS_BOOTSTRAP_CONFIG: JSON.stringify({
        // localhost: the name the server certificate carries. google_default is the only TLS type grpc-js-xds 1.14 has.
        xds_servers: [{ server_uri: `localhost:${app.xdsPort}`, channel_creds: [{ type: 'google_default' }], server_features: ['xds_v3'] }],
        node: { id: nodeId, locality: {} },
      }),
      GRPC_DEFAULT_SSL_ROOTS_FILE_PATH: pki.caFile,
      GOOGLE_APPLICATION_CREDENTIALS: credentials,
      CALLS: String(calls),
      DEADLINE_MS: String(deadlineMs),
    };
    return new Promise((resolve, reject) =>
      execFile(process.execPath, ['--enable-source-maps', CLIENT], { env, timeout: 60_000 }, (err, stdout, stderr) => {
        if (err) return reject(new Error(`client failed: ${err.message}\n${stderr}`));
        resolve(JSON.parse(stdout.trim().split('\n').pop()!));
      }),
    );
  }

  const refusals = async (reason: string) => {
    const text: string = await new Promise(async (resolve, reject) => {
      const { request } = await import('node:https');
      request({ host: 'localhost', port: app.httpPort, path: '/metrics', ca: pki.ca.cert }, (res) => {
        let t = '';
        res.on('data', (c) => (t += c));
        res.on('end', () => resolve(t));
      })
        .on('error', reject)
        .end();
    });
    return Number(new RegExp(`^switchyard_xds_auth_refusals_total\\{reason="${reason}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
  };

  it('google_default channel creds: TLS verified against the test CA, a signed JWT as its identity, real traffic', async () => {
    const running = runClient('proxyless-tls-1', good.file, 8000, 400);
    // While it runs, the control plane shows the stream under the JWT's identity.
    let seen: any;
    for (let i = 0; i < 200 && !seen; i++) {
      seen = (await fetchJson('GET', '/api/v1/proxies')).body.items.find((x: any) => x.id === 'proxyless-tls-1');
      if (!seen) await new Promise((r) => setTimeout(r, 50));
    }
    const out = await running;
    assert.deepEqual(out.first, { 'tls-v1': 1 }, JSON.stringify(out));
    assert.deepEqual(out.rest, { 'tls-v1': 399 });
    assert.equal(seen?.identity, 'sa:mesh-client@test.iam');
    assert.equal(seen?.clientKind, 'proxyless');
  });

  it('a JWT from an account the server does not trust is refused (bad_token): the client never gets config', async () => {
    const before = await refusals('bad_token');
    const out = await runClient('proxyless-tls-2', bad.file, 3000);
    assert.equal(out.first['tls-v1'], undefined, JSON.stringify(out));
    assert.ok((await refusals('bad_token')) > before);
  });
});
