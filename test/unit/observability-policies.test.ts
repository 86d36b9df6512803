import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PACKAGE_ROOT } from '../../src/common/paths.js';
import type { Resource } from '../../src/model/resources.js';
import { POLICY_KINDS } from '../../src/policies/index.js';
import { parseResource } from '../../src/registry/validation.js';
import { TYPE } from '../../src/translate/envoy-types.js';
import { buildIR } from '../../src/translate/ir.js';
import { translateGroup } from '../../src/translate/xds.js';
import { encodeResource } from '../../src/xds/cache/envoy-protos.js';
import { validateEncoded } from '../../src/xds/cache/pgv.js';
import { loadResources } from '../support/golden.js';

const res = (doc: object): Resource => ({ ...parseResource(doc).input, version: 1, createdAt: '', updatedAt: '', status: {} });

const resources = (routePolicies: string[]) => [
  res({ kind: 'Policy', name: 'traces', spec: { type: 'tracing', tracing: { collector: { service: 'otel' }, tags: [{ tag: 'user', header: 'x-user' }] } } }),
  res({ kind: 'Policy', name: 'file', spec: { type: 'accessLog', accessLog: { sink: 'file', path: '/var/log/a.log', minStatus: 400 } } }),
  res({ kind: 'Service', name: 'otel', spec: { protocol: 'grpc', port: 4317 } }),
  res({ kind: 'Service', name: 's', spec: { protocol: 'grpc', port: 1 } }),
  res({ kind: 'Endpoint', name: 'e', service: 's', spec: { address: '10.0.0.1', port: 1 } }),
  res({ kind: 'Route', name: 'r', spec: { hosts: ['r'], policies: routePolicies, rules: [{ backends: [{ service: 's', weight: 1 }] }] } }),
  res({ kind: 'Listener', name: 'l', spec: { group: 'default', address: '0.0.0.0', port: 80, protocol: 'http', routes: ['r'], policies: ['traces', 'file'] } }),
];

const lds = (group: { kind: 'envoy' | 'proxyless'; cluster: string }, routePolicies: string[] = []) => {
  const ir = buildIR({ revision: 1, resources: resources(routePolicies) }, POLICY_KINDS);
  return translateGroup(ir, group, POLICY_KINDS).resources[TYPE.listener][0].resource as any;
};

describe('tracing and accessLog rendering', () => {
  it("Envoy's PGV rules are checked inside the tracer and access logger configs (the golden files' check is not vacuous)", () => {
    const l = lds({ kind: 'envoy', cluster: 'default' });
    assert.deepEqual(validateEncoded(TYPE.listener, encodeResource(TYPE.listener, l)), []);
    const hcm = l.filter_chains[0].filters[0].typed_config;
    hcm.access_log[0].typed_config.path = '';
    hcm.access_log[0].filter.status_code_filter.comparison.value.runtime_key = '';
    hcm.tracing.custom_tags[0].request_header.name = '';
    const paths = validateEncoded(TYPE.listener, encodeResource(TYPE.listener, l)).map((v) => v.path);
    for (const p of ['access_log[0].typed_config<FileAccessLog>.path', 'access_log[0].filter.status_code_filter.comparison.value.runtime_key', 'tracing.custom_tags[0].request_header.name'])
      assert.ok(paths.some((x) => x.endsWith(p)), `${p} in ${paths.join(', ')}`);
  });

  it('a proxyless API listener is the same with or without the policies on its Route', () => {
    const proxyless = { kind: 'proxyless' as const, cluster: '' };
    assert.deepEqual(lds(proxyless, ['traces', 'file']), lds(proxyless, []));
  });

  it('examples/observability.yaml on top of the quick start: traced and logged, nothing reported, valid by Envoy rules', () => {
    const extra = loadResources(join(PACKAGE_ROOT, 'examples/observability.yaml'));
    const all = [...loadResources(join(PACKAGE_ROOT, 'examples/quick-start.yaml')).filter((r) => !extra.some((x) => x.kind === r.kind && x.name === r.name)), ...extra];
    const ir = buildIR({ revision: 1, resources: all }, POLICY_KINDS);
    const out = translateGroup(ir, { kind: 'envoy', cluster: 'default' }, POLICY_KINDS);
    assert.deepEqual([...ir.issues, ...out.issues], []);
    assert.ok(out.resources[TYPE.cluster].some((c) => c.name === 'otel-collector'));
    const l = out.resources[TYPE.listener][0].resource as any;
    const hcm = l.filter_chains[0].filters[0].typed_config;
    assert.equal(hcm.tracing.provider.typed_config.grpc_service.envoy_grpc.cluster_name, 'otel-collector');
    assert.deepEqual(hcm.access_log.map((a: any) => a.name), ['envoy.access_loggers.stdout']);
    assert.deepEqual(validateEncoded(TYPE.listener, encodeResource(TYPE.listener, l)), []);
  });
});
