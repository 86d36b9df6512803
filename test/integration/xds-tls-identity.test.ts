import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { loadRegistryProto } from '../../src/registry/grpc/registry.grpc-server.js';
import { jsonToStruct } from '../../src/registry/grpc/struct.js';
import { tokenHash } from '../../src/security/xds-identity.js';
import { TYPE } from '../../src/translate/envoy-types.js';
import { decodeResource } from '../../src/xds/cache/envoy-protos.js';
import { AdsTestClient, envoyNode, grpcNode } from '../support/ads-client.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { echoEndpoint, echoRoute, echoService } from '../support/fixtures.js';
import { TestPki, type Pem } from '../support/tls.js';

const EDGE = 'spiffe://switchyard/group/edge';
const OTHER = 'spiffe://switchyard/group/other';
const EDGE_TOKEN = 'edge-token-3b1f9c';

/** Resource names of a SotW response (Any) or a Delta one (Resource with a name). */
const names = (r: { resources: any[] }) => r.resources.map((a) => (a.name ?? decodeResource(a.type_url, a.value).name) as string);
const listener = (name: string, group: string, port: number) => ({ kind: 'Listener', name, spec: { group, address: '0.0.0.0', port, protocol: 'http', routes: ['echo'] } });

/** An https GET that trusts only `ca`; returns status, body and the server certificate's serial. */
function httpsGet(port: number, path: string, ca: string): Promise<{ status: number; body: string; serial: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', servername: 'localhost', port, path, ca, agent: false }, (res) => {
      const serial = (res.socket as import('node:tls').TLSSocket).getPeerCertificate().serialNumber;
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, serial }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The serial of the certificate a fresh TLS connection to `port` is shown (h2 ALPN for gRPC ports). */
function servedSerial(port: number, ca: string, h2: boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', servername: 'localhost', port, ca, ...(h2 ? { ALPNProtocols: ['h2'] } : {}) }, () => {
      const serial = s.getPeerCertificate().serialNumber;
      s.end();
      resolve(serial);
    });
    s.on('error', reject);
  });
}

const serialOf = (pem: Pem) => new X509Certificate(pem.cert).serialNumber;

async function refusals(app: { httpPort: number }, ca: string, reason: string): Promise<number> {
  const text = (await httpsGet(app.httpPort, '/metrics', ca)).body;
  const m = new RegExp(`^switchyard_xds_auth_refusals_total\\{reason="${reason}"\\} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

describe('TLS, mTLS and proxy identity on xDS (XDS_AUTH=required)', () => {
  let pki: TestPki;
  let mtls: TestApp; // xDS requires a client certificate signed by the test CA
  let tlsOnly: TestApp; // xDS over TLS without client certificates: bearer tokens or nothing
  let serverPem: Pem;
  let serverFiles: { cert: string; key: string };
  let identitiesFile: string;
  const pems: Record<string, Pem> = {};
  const clients: AdsTestClient<any>[] = [];
  const creds = (who?: string) =>
    who ? grpc.credentials.createSsl(Buffer.from(pki.ca.cert), Buffer.from(pems[who].key), Buffer.from(pems[who].cert)) : grpc.credentials.createSsl(Buffer.from(pki.ca.cert));
  const ads = (app: TestApp, opts: { who?: string; delta?: boolean; token?: string } = {}) => {
    const metadata = new grpc.Metadata();
    if (opts.token) metadata.set('authorization', `Bearer ${opts.token}`);
    const c = new AdsTestClient<any>(app.xdsPort, opts.delta ?? false, undefined, { credentials: creds(opts.who), metadata, host: 'localhost' });
    clients.push(c);
    return c;
  };
  const writeIdentities = (edgeGroups: string[]) =>
    writeFileSync(
      identitiesFile,
      JSON.stringify({
        identities: [
          { id: EDGE, groups: edgeGroups },
          { id: OTHER, groups: ['other'] },
          { id: 'proxyless-client', groups: ['proxyless'] },
          { token: tokenHash(EDGE_TOKEN), id: 'edge-tokens', groups: ['edge'] },
        ],
      }),
    );

  before(async () => {
    pki = await TestPki.create();
    serverPem = await pki.server();
    serverFiles = pki.write('server', serverPem);
    pems.edge = await pki.client('edge-1', EDGE);
    pems.other = await pki.client('other-1', OTHER);
    pems.cnOnly = await pki.client('proxyless-client');
    // Signed by another CA: TLS must refuse it.
    const stranger = await TestPki.create('stranger CA');
    pems.stranger = await stranger.client('edge-1', EDGE);
    stranger.cleanup();
    identitiesFile = join(pki.dir, 'identities.yaml');
    writeIdentities(['edge']);
    const common = {
      XDS_DEBOUNCE_QUIET_MS: '10',
      TLS_CERT_FILE: serverFiles.cert,
      TLS_KEY_FILE: serverFiles.key,
      XDS_AUTH: 'required',
      XDS_IDENTITIES_FILE: identitiesFile,
      SECURITY_RELOAD_INTERVAL_MS: '100',
    };
    mtls = await startTestApp('pglite', { ...common, XDS_CLIENT_CA_FILE: pki.caFile });
    tlsOnly = await startTestApp('pglite', common);
    for (const app of [mtls, tlsOnly]) {
      const admin = grpcRegistry(app);
      await new Promise<void>((resolve, reject) =>
        admin.Apply(
          { resources: [echoService(), echoEndpoint('echo-1', 'v1'), echoEndpoint('echo-2', 'v2', 50062), echoRoute(), listener('edge', 'edge', 10000), listener('other', 'other', 10001)].map(toPb) },
          (err: Error | null) => (err ? reject(err) : resolve()),
        ),
      );
      admin.close();
    }
  });
  after(async () => {
    for (const c of clients) c.close();
    await mtls?.stop();
    await tlsOnly?.stop();
    pki?.cleanup();
  });

  function grpcRegistry(app: TestApp): any {
    const v1 = (loadRegistryProto() as any).switchyard.v1;
    return new v1.Registry(`localhost:${app.grpcPort}`, grpc.credentials.createSsl(Buffer.from(pki.ca.cert)));
  }
  const toPb = (r: any) => ({ kind: r.kind, name: r.name, service: r.service ?? '', labels: r.labels ?? {}, spec: jsonToStruct(r.spec) });

  it('REST over HTTPS and management gRPC over TLS answer with the test CA; plaintext is not served', async () => {
    const r = await httpsGet(mtls.httpPort, '/api/v1/routes/echo', pki.ca.cert);
    assert.equal(r.status, 200, r.body);
    assert.equal(JSON.parse(r.body).name, 'echo');
    await assert.rejects(fetch(`http://127.0.0.1:${mtls.httpPort}/health`));
    const admin = grpcRegistry(mtls);
    const got: any = await new Promise((resolve, reject) => admin.Get({ key: { kind: 'Route', name: 'echo' } }, (e: Error | null, v: unknown) => (e ? reject(e) : resolve(v))));
    assert.equal(got.name, 'echo');
    admin.close();
    // A client that does not trust the test CA fails the handshake.
    const v1 = (loadRegistryProto() as any).switchyard.v1;
    const untrusting = new v1.Registry(`localhost:${mtls.grpcPort}`, grpc.credentials.createSsl(), { 'grpc.initial_reconnect_backoff_ms': 100 });
    await assert.rejects(
      new Promise((resolve, reject) => untrusting.Get({ key: { kind: 'Route', name: 'echo' } }, { deadline: Date.now() + 2000 }, (e: Error | null, v: unknown) => (e ? reject(e) : resolve(v)))),
      (e: any) => e.code === grpc.status.UNAVAILABLE || e.code === grpc.status.DEADLINE_EXCEEDED,
    );
    untrusting.close();
  });

  it('the right identity in the right group gets its resources (SotW and Delta), and /api/v1/proxies names it', async () => {
    const c = ads(mtls, { who: 'edge' });
    c.send({ node: envoyNode('edge-a', 'edge'), type_url: TYPE.listener });
    assert.deepEqual(names(await c.next()), ['edge']);
    const d = ads(mtls, { who: 'edge', delta: true });
    d.send({ node: envoyNode('edge-b', 'edge'), type_url: TYPE.listener });
    assert.deepEqual(names(await d.next()), ['edge']);
    const p = (await httpsGet(mtls.httpPort, '/api/v1/proxies', pki.ca.cert)).body;
    assert.equal(JSON.parse(p).items.find((x: any) => x.id === 'edge-a').identity, EDGE);
    // A certificate without a URI SAN is known by its CN.
    const g = ads(mtls, { who: 'cnOnly' });
    g.send({ node: grpcNode('g-1'), type_url: TYPE.listener, resource_names: ['echo'] });
    assert.deepEqual(names(await g.next()), ['echo']);
  });

  for (const delta of [false, true]) {
    it(`identity A asking as group B is refused with PERMISSION_DENIED before anything is sent (${delta ? 'Delta' : 'SotW'}), and counted`, async () => {
      const before = await refusals(mtls, pki.ca.cert, 'wrong_group');
      const c = ads(mtls, { who: 'edge', delta });
      c.send({ node: envoyNode(`sneaky-${delta}`, 'other'), type_url: TYPE.listener });
      c.send({ type_url: TYPE.cluster });
      const s = await c.closed();
      assert.equal(s.code, grpc.status.PERMISSION_DENIED);
      assert.match(s.details, /identity spiffe:\/\/switchyard\/group\/edge may not join node group other/);
      await c.quiet(200);
      assert.equal(await refusals(mtls, pki.ca.cert, 'wrong_group'), before + 1);
    });
  }

  it('a node id connected under one identity is refused to another (PERMISSION_DENIED), not to the same one', async () => {
    const first = ads(mtls, { who: 'edge' });
    first.send({ node: envoyNode('shared-id', 'edge'), type_url: TYPE.listener });
    await first.next();
    const before = await refusals(mtls, pki.ca.cert, 'node_id_taken');
    const thief = ads(mtls, { who: 'other' });
    thief.send({ node: envoyNode('shared-id', 'other'), type_url: TYPE.listener });
    const s = await thief.closed();
    assert.equal(s.code, grpc.status.PERMISSION_DENIED);
    assert.match(s.details, /node id shared-id is connected under another identity/);
    await thief.quiet(100);
    assert.equal(await refusals(mtls, pki.ca.cert, 'node_id_taken'), before + 1);
    // The same identity may hold the id twice (an Envoy hot restart overlaps two streams).
    const again = ads(mtls, { who: 'edge', delta: true });
    again.send({ node: envoyNode('shared-id', 'edge'), type_url: TYPE.listener });
    assert.deepEqual(names(await again.next()), ['edge']);
    // Once every stream of the id is gone, another identity may use it.
    first.close();
    again.close();
    await new Promise((r) => setTimeout(r, 200));
    const later = ads(mtls, { who: 'other' });
    later.send({ node: envoyNode('shared-id', 'other'), type_url: TYPE.listener });
    assert.deepEqual(names(await later.next()), ['other']);
  });

  it('with mTLS, no client certificate or one from another CA fails the TLS handshake: nothing is sent', async () => {
    for (const who of [undefined, 'stranger']) {
      const c = ads(mtls, { who });
      c.send({ node: envoyNode(`nocert-${who}`, 'edge'), type_url: TYPE.listener });
      const s = await c.closed();
      assert.equal(s.code, grpc.status.UNAVAILABLE, s.details);
      await c.quiet(100);
    }
  });

  it('XDS_AUTH=required over TLS: no credentials → UNAUTHENTICATED (no_identity), a wrong token → bad_token, the right token works', async () => {
    const noId = await refusals(tlsOnly, pki.ca.cert, 'no_identity');
    const c = ads(tlsOnly);
    c.send({ node: envoyNode('anon-1', 'edge'), type_url: TYPE.listener });
    const s = await c.closed();
    assert.equal(s.code, grpc.status.UNAUTHENTICATED);
    await c.quiet(100);
    assert.equal(await refusals(tlsOnly, pki.ca.cert, 'no_identity'), noId + 1);

    const bad = await refusals(tlsOnly, pki.ca.cert, 'bad_token');
    const w = ads(tlsOnly, { token: 'not-the-token' });
    w.send({ node: envoyNode('anon-2', 'edge'), type_url: TYPE.listener });
    assert.equal((await w.closed()).code, grpc.status.UNAUTHENTICATED);
    assert.equal(await refusals(tlsOnly, pki.ca.cert, 'bad_token'), bad + 1);

    const t = ads(tlsOnly, { token: EDGE_TOKEN, delta: true });
    t.send({ node: envoyNode('token-1', 'edge'), type_url: TYPE.listener });
    assert.deepEqual(names(await t.next()), ['edge']);
    const p = JSON.parse((await httpsGet(tlsOnly.httpPort, '/api/v1/proxies', pki.ca.cert)).body);
    assert.equal(p.items.find((x: any) => x.id === 'token-1').identity, 'edge-tokens');
    // The token's identity is bound to edge only.
    const o = ads(tlsOnly, { token: EDGE_TOKEN });
    o.send({ node: envoyNode('token-2', 'other'), type_url: TYPE.listener });
    assert.equal((await o.closed()).code, grpc.status.PERMISSION_DENIED);
  });

  it('XDS_IDENTITIES_FILE is re-read: a new binding applies to new streams without a restart', async () => {
    writeIdentities(['edge', 'other']);
    await eventuallyOk(async () => {
      const c = ads(mtls, { who: 'edge' });
      c.send({ node: envoyNode(`rebound-${Date.now()}`, 'other'), type_url: TYPE.listener });
      assert.deepEqual(names(await c.next(1000)), ['other']);
    });
    writeIdentities(['edge']);
    await eventuallyOk(async () => {
      const c = ads(mtls, { who: 'edge' });
      c.send({ node: envoyNode(`unbound-${Date.now()}`, 'other'), type_url: TYPE.listener });
      assert.equal((await c.closed(1000)).code, grpc.status.PERMISSION_DENIED);
    });
  });

  it('certificate rotation: new connections to REST, management gRPC and xDS get the new certificate without a restart', async () => {
    const old = serialOf(serverPem);
    for (const [port, h2] of [[mtls.httpPort, false], [mtls.grpcPort, true], [mtls.xdsPort, true]] as const) {
      assert.equal(await servedSerial(port, pki.ca.cert, h2), old);
    }
    const existing = ads(mtls, { who: 'edge' });
    existing.send({ node: envoyNode('before-rotation', 'edge'), type_url: TYPE.listener });
    const first = await existing.next();
    const next = await pki.server('localhost');
    pki.replace(serverFiles, next);
    await eventuallyOk(async () => assert.equal(await servedSerial(mtls.xdsPort, pki.ca.cert, true), serialOf(next)));
    assert.equal(await servedSerial(mtls.grpcPort, pki.ca.cert, true), serialOf(next));
    assert.equal((await httpsGet(mtls.httpPort, '/health', pki.ca.cert)).serial, serialOf(next));
    // New gRPC connections work with the new certificate; the stream opened before goes on.
    const c = ads(mtls, { who: 'edge' });
    c.send({ node: envoyNode('after-rotation', 'edge'), type_url: TYPE.listener });
    assert.deepEqual(names(await c.next()), ['edge']);
    existing.send({ type_url: TYPE.listener, version_info: first.version_info, response_nonce: first.nonce });
    await existing.quiet(200);
    assert.equal(existing.status, undefined, 'the old stream is still open');
    // A broken rotation (a key that does not fit) keeps the current certificate.
    const other = await pki.server('localhost');
    writeFileSync(serverFiles.key, other.key);
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(await servedSerial(mtls.xdsPort, pki.ca.cert, true), serialOf(next));
    pki.replace(serverFiles, next);
  });
});

async function eventuallyOk(check: () => Promise<void>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (e) {
      if (Date.now() > end) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
