import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import YAML from 'yaml';
import { PACKAGE_ROOT } from '../../src/common/paths.js';
import { decodeResource, encodeResource, envoyRoot, fromProto3Json } from '../../src/xds/cache/envoy-protos.js';
import { validateEncoded } from '../../src/xds/cache/pgv.js';
import { TYPE } from '../../src/translate/envoy-types.js';
import { SnapshotCache } from '../../src/xds/cache/cache.js';
import { IdentitiesFile } from '../../src/security/xds-identity.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { eventually } from '../support/xds-client.js';

const BOOTSTRAP = 'type.googleapis.com/envoy.config.bootstrap.v3.Bootstrap';
const read = (f: string) => readFileSync(join(PACKAGE_ROOT, f), 'utf8');

function bootstrap(file: string) {
  const obj = fromProto3Json(envoyRoot().lookupType('envoy.config.bootstrap.v3.Bootstrap'), YAML.parse(read(file))) as object;
  const bytes = encodeResource(BOOTSTRAP, obj);
  return { decoded: decodeResource(BOOTSTRAP, bytes) as any, violations: validateEncoded(BOOTSTRAP, bytes) };
}

describe('what we ship for Envoy and gRPC users', () => {
  for (const [file, api] of [
    ['envoy/bootstrap-ads.yaml', 'GRPC'],
    ['envoy/bootstrap-ads-delta.yaml', 'DELTA_GRPC'],
    ['envoy/bootstrap-ads-mtls.yaml', 'GRPC'],
  ]) {
    it(`${file} decodes into envoy.config.bootstrap.v3.Bootstrap and passes the PGV rules`, () => {
      const { decoded, violations } = bootstrap(file);
      assert.deepEqual(violations, []);
      assert.equal(decoded.dynamic_resources.ads_config.api_type, api);
      assert.equal(decoded.node.cluster, 'default');
      const sy = decoded.static_resources.clusters.find((c: any) => c.name === 'switchyard');
      assert.equal(sy.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value, 18000);
      assert.ok(sy.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'], 'HTTP/2 to the xDS server');
    });
  }

  it('envoy/bootstrap-ads-mtls.yaml talks to the xDS server over mTLS, with its certificate and CA from SDS files', () => {
    const { decoded } = bootstrap('envoy/bootstrap-ads-mtls.yaml');
    const sy = decoded.static_resources.clusters.find((c: any) => c.name === 'switchyard');
    assert.equal(sy.transport_socket.name, 'envoy.transport_sockets.tls');
    const ctx = sy.transport_socket.typed_config;
    assert.equal(ctx['@type'], 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext');
    assert.equal(ctx.sni, 'switchyard');
    assert.deepEqual(ctx.common_tls_context.alpn_protocols, ['h2']);
    assert.equal(ctx.common_tls_context.tls_certificate_sds_secret_configs[0].sds_config.path_config_source.path, '/etc/envoy/tls/sds-identity.yaml');
    assert.equal(ctx.common_tls_context.validation_context_sds_secret_config.sds_config.path_config_source.path, '/etc/envoy/tls/sds-ca.yaml');
    const compose = YAML.parse(read('docker-compose.mtls.yml'));
    assert.ok(compose.services.envoy.volumes.some((v: string) => v.startsWith('./envoy/bootstrap-ads-mtls.yaml:/etc/envoy/envoy.yaml')));
    assert.ok(compose.services.envoy.volumes.includes('./envoy/tls:/etc/envoy/tls:ro'));
    assert.equal(compose.services.switchyard.environment.XDS_AUTH, 'required');
  });

  it('scripts/dev-certs.mjs writes SDS files that pass the PGV rules, a chain that verifies, and identities Switchyard loads', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dev-certs-'));
    try {
      execFileSync(process.execPath, [join(PACKAGE_ROOT, 'scripts/dev-certs.mjs')], { env: { ...process.env, DEV_CERTS_DIR: dir }, stdio: 'pipe' });
      const SECRET = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret';
      for (const [file, name] of [['sds-identity.yaml', 'envoy-identity'], ['sds-ca.yaml', 'switchyard-ca']]) {
        const { '@type': type, ...secret } = YAML.parse(readFileSync(join(dir, file), 'utf8')).resources[0];
        assert.equal(type, SECRET);
        const bytes = encodeResource(SECRET, fromProto3Json(envoyRoot().lookupType('envoy.extensions.transport_sockets.tls.v3.Secret'), secret) as object);
        assert.deepEqual(validateEncoded(SECRET, bytes), [], file);
        assert.equal(decodeResource(SECRET, bytes).name, name);
      }
      const ca = new X509Certificate(readFileSync(join(dir, 'ca.crt')));
      const envoy = new X509Certificate(readFileSync(join(dir, 'envoy.crt')));
      const server = new X509Certificate(readFileSync(join(dir, 'switchyard.crt')));
      assert.ok(envoy.verify(ca.publicKey) && server.verify(ca.publicKey));
      assert.equal(envoy.subjectAltName, 'URI:spiffe://switchyard/group/default');
      assert.ok(server.checkHost('switchyard'));
      const ids = new IdentitiesFile(join(dir, 'identities.yaml'));
      assert.deepEqual(ids.groupsOf('spiffe://switchyard/group/default'), ['default']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a broken bootstrap is caught by the same rules', () => {
    const y = YAML.parse(read('envoy/bootstrap-ads.yaml'));
    y.static_resources.clusters[0].connect_timeout = '0s';
    y.static_resources.clusters[0].name = '';
    const obj = fromProto3Json(envoyRoot().lookupType('envoy.config.bootstrap.v3.Bootstrap'), y) as object;
    const msgs = validateEncoded(BOOTSTRAP, encodeResource(BOOTSTRAP, obj)).map((v) => v.path);
    assert.ok(msgs.includes('static_resources.clusters[0].connect_timeout'), msgs.join());
    assert.ok(msgs.includes('static_resources.clusters[0].name'), msgs.join());
  });

  it('the grpc-js-xds bootstrap points at the xDS port', () => {
    const b = JSON.parse(read('envoy/grpc-xds-bootstrap.json'));
    assert.match(b.xds_servers[0].server_uri, /:18000$/);
    assert.deepEqual(b.node.locality, {}, 'grpc-js-xds needs node.locality');
  });

  describe('docker-compose demo', () => {
    let app: TestApp;
    before(async () => {
      app = await startTestApp('pglite');
    });
    after(async () => {
      await app?.stop();
    });
    it('envoy/demo.yaml applies cleanly and the compose file wires Envoy to the bootstrap', async () => {
      const res = await app.http('POST', '/api/v1/apply?dryRun=true', read('envoy/demo.yaml'), { 'content-type': 'application/yaml' });
      assert.equal(res.status, 200, res.text);
      const compose = YAML.parse(read('docker-compose.yml'));
      assert.ok(compose.services.envoy.volumes[0].startsWith('./envoy/bootstrap-ads.yaml:'));
      const docs = YAML.parseAllDocuments(read('envoy/demo.yaml')).map((d) => d.toJS());
      const v1 = docs.find((d) => d.kind === 'Endpoint' && d.name === 'demo-v1');
      assert.equal(compose.services['demo-v1'].networks.yard.ipv4_address, v1.spec.address);
      assert.ok(compose.services.switchyard.ports.includes('18000:18000'));
    });

    it("the demo's Envoy gets its retry, circuit breaker, outlier ejection, rate limit and access log, valid by Envoy's rules", async () => {
      assert.equal((await app.http('POST', '/api/v1/apply', read('envoy/demo.yaml'), { 'content-type': 'application/yaml' })).status, 200);
      const cache = app.app.get(SnapshotCache);
      const snap = await eventually(async () => {
        const s = cache.snapshot({ kind: 'envoy', cluster: 'default' });
        assert.ok(s?.types[TYPE.listener].list.length, 'built');
        return s!;
      });
      assert.deepEqual(snap.issues, [], 'nothing refused');
      const json = (t: string) => snap.types[t as keyof typeof snap.types].list.map((r) => r.json as any);
      const v1 = json(TYPE.cluster).find((c) => c.name === 'demo/v1');
      assert.equal(v1.circuit_breakers.thresholds[0].max_requests.value, 200);
      assert.equal(v1.outlier_detection.consecutive_5xx.value, 3);
      const hcm = json(TYPE.listener)[0].filter_chains[0].filters[0].typed_config;
      assert.deepEqual(hcm.http_filters.map((f: any) => f.name), ['envoy.filters.http.local_ratelimit', 'envoy.filters.http.router']);
      assert.deepEqual(hcm.access_log.map((a: any) => a.name), ['envoy.access_loggers.stdout']);
      const routes = json(TYPE.route)[0].virtual_hosts[0].routes;
      for (const r of routes) {
        assert.equal(r.route.retry_policy.num_retries.value, 2);
        assert.equal(r.typed_per_filter_config['envoy.filters.http.local_ratelimit'].token_bucket.max_tokens, 10);
      }
    });

    it('envoy/demo-rollout.yaml applies on top of the demo, and its subsets report load to Switchyard (lrs_server self)', async () => {
      const res = await app.http('POST', '/api/v1/apply', read('envoy/demo-rollout.yaml'), { 'content-type': 'application/yaml' });
      assert.equal(res.status, 200, res.text);
      const cache = app.app.get(SnapshotCache);
      await eventually(async () => {
        const s = cache.snapshot({ kind: 'envoy', cluster: 'default' })!;
        const clusters = s.types[TYPE.cluster].list.map((r) => r.json as any);
        assert.deepEqual(clusters.filter((c) => c.lrs_server).map((c) => c.name).sort(), ['demo/v1', 'demo/v2'].filter((n) => clusters.some((c) => c.name === n)));
        assert.ok(clusters.some((c) => c.lrs_server), 'some cluster reports load');
        assert.deepEqual(s.issues, []);
      });
    });
  });
});
