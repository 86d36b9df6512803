import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import YAML from 'yaml';
import { PACKAGE_ROOT } from '../../src/common/paths.js';
import { decodeResource, encodeResource, envoyRoot, fromProto3Json } from '../../src/xds/cache/envoy-protos.js';
import { validateEncoded } from '../../src/xds/cache/pgv.js';
import { startTestApp, type TestApp } from '../support/app.js';

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
      const ips = YAML.parse(read('envoy/demo.yaml').split('---')[1]).spec.address;
      assert.equal(compose.services['demo-v1'].networks.yard.ipv4_address, ips);
      assert.ok(compose.services.switchyard.ports.includes('18000:18000'));
    });
  });
});
