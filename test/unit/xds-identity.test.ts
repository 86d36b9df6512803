import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PeerCertificate } from 'node:tls';
import { after, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { TlsMaterial } from '../../src/security/tls.js';
import { certificateIdentity, FileXdsIdentityResolver, IdentitiesFile, tokenHash } from '../../src/security/xds-identity.js';
import { type Refusal, type StreamPass, XdsGate } from '../../src/xds/server/authz.js';
import { envoyNode, grpcNode } from '../support/ads-client.js';
import { TestPki } from '../support/tls.js';

const dir = mkdtempSync(join(tmpdir(), 'xds-identity-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = (doc: unknown) => {
  const p = join(dir, `ids-${++n}.yaml`);
  writeFileSync(p, typeof doc === 'string' ? doc : JSON.stringify(doc));
  return p;
};
const cert = (san: string, cn = 'cn-1') => ({ subjectaltname: san, subject: { CN: cn } }) as unknown as PeerCertificate;
const call = (opts: { cert?: PeerCertificate; auth?: string } = {}) => {
  const metadata = new grpc.Metadata();
  if (opts.auth) metadata.set('authorization', opts.auth);
  return { metadata, getAuthContext: () => (opts.cert ? { sslPeerCertificate: opts.cert } : {}) };
};

describe('certificate identities', () => {
  it('prefers a SPIFFE URI SAN, then any URI SAN, then the CN', () => {
    assert.equal(certificateIdentity(cert('DNS:a, URI:https://x/y, URI:spiffe://td/group/edge')), 'spiffe://td/group/edge');
    assert.equal(certificateIdentity(cert('DNS:a, URI:urn:example:1')), 'urn:example:1');
    assert.equal(certificateIdentity(cert('DNS:a', 'edge-1')), 'edge-1');
    assert.equal(certificateIdentity(cert('URI:"spiffe://td/a,b"')), 'spiffe://td/a,b', 'Node quotes values with a comma');
  });
});

describe('XDS_IDENTITIES_FILE', () => {
  it('names the entry and field of every mistake', () => {
    const bad: [unknown, RegExp][] = [
      [{ identities: [{ id: 'a', groups: 'edge' }] }, /identities\[0\]\.groups: must be a list/],
      [{ identities: [{ id: 'a', groups: ['x'], token: 'secret' }] }, /identities\[0\]\.token: must be the sha256/],
      [{ identities: [{ id: 'a', groups: [] }, { id: 'a', groups: [] }] }, /identities\[1\]\.id: a appears twice/],
      [{ identities: [{ id: 'a', groups: [], role: 'x' }] }, /unknown field role/],
      ['identities: [', /XDS_IDENTITIES_FILE/],
    ];
    for (const [doc, re] of bad) assert.throws(() => new IdentitiesFile(file(doc)), (e: Error) => e instanceof ConfigError && re.test(e.message));
    assert.throws(() => new IdentitiesFile(join(dir, 'absent.yaml')), /no such file/);
  });

  it('a reload that does not parse keeps the previous bindings', () => {
    const p = file({ identities: [{ id: 'a', groups: ['edge'] }] });
    const problems: string[] = [];
    const f = new IdentitiesFile(p, (m) => problems.push(m));
    writeFileSync(p, 'identities: [{id: a, groups: edge}]');
    f.reload();
    assert.deepEqual(f.groupsOf('a'), ['edge']);
    assert.match(problems[0], /keeping the previous bindings/);
    writeFileSync(p, JSON.stringify({ identities: [{ id: 'a', groups: ['other'] }] }));
    f.reload();
    assert.deepEqual(f.groupsOf('a'), ['other']);
  });
});

describe('XdsGate', () => {
  const ids = new IdentitiesFile(
    file({
      identities: [
        { id: 'spiffe://sy/group/edge', groups: ['edge'] },
        { id: 'spiffe://sy/admin', groups: ['*'] },
        { token: tokenHash('t0ken'), id: 'ci', groups: ['proxyless'] },
      ],
    }),
  );
  const gate = (mode: 'optional' | 'required', f = ids) => {
    const refused: Refusal[] = [];
    return { gate: new XdsGate(mode, new FileXdsIdentityResolver(f), (r) => refused.push(r)), refused };
  };
  const pass = async (g: XdsGate, c: ReturnType<typeof call>) => {
    const r = await g.identify(c);
    if ('code' in r) throw new Error(`refused: ${r.details}`);
    return r as StreamPass;
  };

  it('required: no credentials is no_identity (UNAUTHENTICATED); a wrong or malformed token is bad_token', async () => {
    const { gate: g, refused } = gate('required');
    assert.equal(((await g.identify(call())) as Refusal).code, grpc.status.UNAUTHENTICATED);
    assert.equal(((await g.identify(call({ auth: 'Bearer nope' }))) as Refusal).reason, 'bad_token');
    assert.equal(((await g.identify(call({ auth: 'Basic abc' }))) as Refusal).reason, 'bad_token');
    // A wrong token is refused even next to a good certificate: it is never silently ignored.
    assert.equal(((await g.identify(call({ auth: 'Bearer nope', cert: cert('URI:spiffe://sy/group/edge') }))) as Refusal).reason, 'bad_token');
    assert.deepEqual(refused.map((r) => r.reason), ['no_identity', 'bad_token', 'bad_token', 'bad_token']);
  });

  it('binds identities to groups: Envoy node.cluster, proxyless for gRPC clients, * for all', async () => {
    const { gate: g, refused } = gate('required');
    const edge = await pass(g, call({ cert: cert('URI:spiffe://sy/group/edge') }));
    assert.equal(edge.admit(envoyNode('e1', 'edge')), undefined);
    assert.equal(edge.admit(envoyNode('e2', 'other'))?.reason, 'wrong_group');
    assert.equal(edge.admit(grpcNode('e3'))?.reason, 'wrong_group');
    const token = await pass(g, call({ auth: 'Bearer t0ken' }));
    assert.equal(token.identity.id, 'ci');
    assert.equal(token.admit(grpcNode('g1')), undefined);
    const admin = await pass(g, call({ cert: cert('URI:spiffe://sy/admin') }));
    assert.equal(admin.admit(envoyNode('a1', 'anything')), undefined);
    const unlisted = await pass(g, call({ cert: cert('DNS:x', 'stranger') }));
    assert.match(unlisted.admit(envoyNode('s1', 'edge'))!.details, /stranger may not join node group edge \(bound to no node group/);
    assert.equal(refused.length, 3);
  });

  it('one node id belongs to one identity while it has streams', async () => {
    const { gate: g } = gate('required');
    const a = await pass(g, call({ cert: cert('URI:spiffe://sy/admin') }));
    const b = await pass(g, call({ cert: cert('URI:spiffe://sy/group/edge') }));
    const a2 = await pass(g, call({ cert: cert('URI:spiffe://sy/admin') }));
    assert.equal(a.admit(envoyNode('n1', 'edge')), undefined);
    assert.equal(a2.admit(envoyNode('n1', 'edge')), undefined, 'the same identity twice');
    assert.equal(b.admit(envoyNode('n1', 'edge'))?.reason, 'node_id_taken');
    a.release();
    assert.equal(b.admit(envoyNode('n1', 'edge'))?.reason, 'node_id_taken', 'still held by the second stream');
    a2.release();
    a2.release(); // idempotent
    assert.equal(b.admit(envoyNode('n1', 'edge')), undefined);
  });

  it('optional: anonymous callers join every group, unless an anonymous entry names theirs', async () => {
    const open = await pass(gate('optional').gate, call());
    assert.equal(open.identity.via, 'anonymous');
    assert.equal(open.admit(envoyNode('x1', 'edge')), undefined);
    const bound = new IdentitiesFile(file({ identities: [{ id: 'anonymous', groups: ['public'] }] }));
    const anon = await pass(gate('optional', bound).gate, call());
    assert.equal(anon.admit(envoyNode('x2', 'public')), undefined);
    assert.equal(anon.admit(envoyNode('x3', 'edge'))?.reason, 'wrong_group');
    // A bad token is refused in optional mode too: optional means "may come without", not "wrong is fine".
    assert.equal(((await gate('optional').gate.identify(call({ auth: 'Bearer x' }))) as Refusal).reason, 'bad_token');
  });

  it('an async resolver (the port for token modules) is awaited; one that fails refuses', async () => {
    const refused: Refusal[] = [];
    const g = new XdsGate('required', { resolve: async () => ({ identity: { id: 'jwt:alice', groups: ['edge'], via: 'token' } }), anonymousGroups: () => [] }, (r) => refused.push(r));
    assert.equal((await pass(g, call({ auth: 'Bearer eyJ...' }))).identity.id, 'jwt:alice');
    g.useResolver({ resolve: async () => Promise.reject(new Error('store down')), anonymousGroups: () => [] });
    assert.equal(((await g.identify(call({ auth: 'Bearer eyJ...' }))) as Refusal).code, grpc.status.UNAVAILABLE);
  });
});

describe('security settings at boot', () => {
  const base = { DATA_DIR: 'memory://' };
  it('names the variables that must come together', () => {
    const bad: [Record<string, string>, RegExp][] = [
      [{ TLS_CERT_FILE: '/x.crt' }, /TLS_CERT_FILE and TLS_KEY_FILE: set both/],
      [{ XDS_CLIENT_CA_FILE: '/ca.crt' }, /XDS_CLIENT_CA_FILE: client certificates need TLS/],
      [{ XDS_AUTH: 'required' }, /XDS_AUTH=required: needs XDS_IDENTITIES_FILE/],
      [{ XDS_AUTH: 'yes' }, /XDS_AUTH="yes": must be one of/],
    ];
    for (const [env, re] of bad) assert.throws(() => loadConfig({ ...base, ...env }), (e: Error) => e instanceof ConfigError && re.test(e.message), JSON.stringify(env));
    assert.equal(loadConfig(base).XDS_AUTH, 'none');
  });

  it('TLS files that cannot be used stop the boot with the file named', async () => {
    const pki = await TestPki.create();
    try {
      const a = pki.write('a', await pki.server());
      const b = pki.write('b', await pki.server());
      assert.throws(() => new TlsMaterial({ cert: a.cert, key: b.key }), (e: Error) => e instanceof ConfigError && /a\.crt \/ .*b\.key/.test(e.message));
      assert.throws(() => new TlsMaterial({ cert: join(pki.dir, 'none.crt'), key: a.key }), /TLS_CERT_FILE .*none\.crt: no such file/);
      const ok = new TlsMaterial({ cert: a.cert, key: a.key, clientCa: pki.caFile });
      assert.ok(ok.current.clientCa);
      ok.close();
    } finally {
      pki.cleanup();
    }
  });
});
