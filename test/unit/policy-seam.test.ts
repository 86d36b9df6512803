import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Resource } from '../../src/model/resources.js';
import { POLICY_KINDS, POLICY_TYPES, policyKind } from '../../src/policies/index.js';
import { parseResource } from '../../src/registry/validation.js';
import { ValidationFailed } from '../../src/common/errors.js';
import { buildIR } from '../../src/translate/ir.js';
import type { PolicyPlugin } from '../../src/translate/plugin.js';
import { translateGroup } from '../../src/translate/xds.js';
import { TYPE } from '../../src/translate/envoy-types.js';

const res = (doc: object): Resource => ({ ...parseResource(doc).input, version: 1, createdAt: '', updatedAt: '', status: {} });
const envoy = { kind: 'envoy' as const, cluster: 'default' };

const catalogue = (servicePolicies: string[], routePolicies: string[] = [], inline: object = {}) => [
  res({ kind: 'Policy', name: 'svc-retry', spec: { type: 'retry', retry: { attempts: 1, on: ['unavailable'], perTryTimeoutMs: 100 } } }),
  res({ kind: 'Policy', name: 'route-retry', spec: { type: 'retry', retry: { attempts: 4 } } }),
  res({ kind: 'Policy', name: 'svc-timeout', spec: { type: 'timeout', timeout: { requestMs: 900 } } }),
  res({ kind: 'Policy', name: 'svc-idle', spec: { type: 'timeout', timeout: { requestMs: 900, idleMs: 7000 } } }),
  res({ kind: 'Policy', name: 'breaker', spec: { type: 'circuitBreaker', circuitBreaker: { maxRequests: 5 } } }),
  res({ kind: 'Service', name: 's', spec: { protocol: 'grpc', port: 1, policies: servicePolicies } }),
  res({ kind: 'Endpoint', name: 'e', service: 's', spec: { address: '10.0.0.1', port: 1 } }),
  res({ kind: 'Route', name: 'r', spec: { hosts: ['r'], policies: routePolicies, rules: [{ backends: [{ service: 's', weight: 1 }], ...inline }] } }),
  res({ kind: 'Listener', name: 'l', spec: { group: 'default', address: '0.0.0.0', port: 80, protocol: 'http', routes: ['r'] } }),
];

const routeAction = (resources: Resource[], plugins: readonly PolicyPlugin[] = POLICY_KINDS) => {
  const ir = buildIR({ revision: 1, resources }, plugins);
  const rds = translateGroup(ir, envoy, plugins).resources[TYPE.route][0].resource as any;
  return { ir, action: rds.virtual_hosts[0].routes[0].route };
};

describe('the policy plugin seam', () => {
  it('every registered kind is a Policy type, validated by its own schema, with nothing else to edit', () => {
    assert.deepEqual([...POLICY_TYPES].sort(), POLICY_KINDS.map((k) => k.type).sort());
    for (const k of POLICY_KINDS) {
      assert.equal(policyKind(k.type), k);
      // A settings field of another type is refused; a missing one is required.
      const other = POLICY_KINDS.find((o) => o.type !== k.type)!;
      assert.throws(() => parseResource({ kind: 'Policy', name: 'p', spec: { type: k.type, [other.type]: {} } }), (e: unknown) => e instanceof ValidationFailed && e.violations.some((v) => v.field === `spec.${other.type}`));
      assert.throws(() => parseResource({ kind: 'Policy', name: 'p', spec: { type: k.type } }), (e: unknown) => e instanceof ValidationFailed && e.violations.some((v) => v.field === `spec.${k.type}` && /required/.test(v.message)));
    }
    assert.throws(() => parseResource({ kind: 'Policy', name: 'p', spec: { type: 'teleport' } }), (e: unknown) => e instanceof ValidationFailed && e.violations.some((v) => v.field === 'spec.type'));
  });

  it('plugins run in their declared order, each on the output of the one before', () => {
    const first: PolicyPlugin = { type: 'retry', order: 1, attachTo: ['Service', 'Route'], route: (out) => ({ ...out, route: { ...out.route, timeout: { seconds: 1, nanos: 0 } } }) };
    const second: PolicyPlugin = { type: 'timeout', order: 2, attachTo: ['Service', 'Route'], route: (out) => ({ ...out, route: { ...out.route, timeout: { seconds: out.route.timeout ? 2 : 9, nanos: 0 } } }) };
    const resources = catalogue(['svc-retry', 'svc-timeout']);
    assert.deepEqual(routeAction(resources, [second, first]).action.timeout, { seconds: 2, nanos: 0 }, 'order, not list position, decides');
  });

  it('precedence: inline settings over the route\'s Policy over the service\'s', () => {
    const svcOnly = routeAction(catalogue(['svc-retry', 'svc-timeout']));
    assert.equal(svcOnly.action.retry_policy.num_retries.value, 1);
    assert.deepEqual(svcOnly.action.timeout, { seconds: 0, nanos: 900_000_000 });
    const routeWins = routeAction(catalogue(['svc-retry'], ['route-retry']));
    assert.equal(routeWins.action.retry_policy.num_retries.value, 4, 'route-level beats service-level');
    assert.equal(routeWins.action.retry_policy.per_try_timeout, undefined, 'as a whole: nothing of the service policy is left');
    const inline = routeAction(catalogue(['svc-retry', 'svc-timeout'], ['route-retry'], { timeoutMs: 50, retry: { attempts: 2 } }));
    assert.equal(inline.action.retry_policy.num_retries.value, 2, 'inline beats both');
    assert.deepEqual(inline.action.timeout, { seconds: 0, nanos: 50_000_000 });
    assert.deepEqual(inline.ir.virtualHosts[0].routes[0].policies?.retry, { policy: 'route-retry', inline: true, settings: { attempts: 2 } });
    const partial = routeAction(catalogue(['svc-idle'], [], { timeoutMs: 50 }));
    assert.deepEqual([partial.action.timeout, partial.action.idle_timeout], [{ seconds: 0, nanos: 50_000_000 }, { seconds: 7, nanos: 0 }], 'timeoutMs replaces only requestMs');
  });

  it('an attached policy that no plugin renders gets a NotRendered condition, never silence', () => {
    const unrendered = POLICY_KINDS.map((k) => (k.type === 'circuitBreaker' ? { type: k.type, order: k.order, attachTo: k.attachTo } : k));
    const ir = buildIR({ revision: 1, resources: catalogue(['breaker']) }, unrendered);
    assert.deepEqual(
      ir.issues.filter((i) => i.kind === 'Policy'),
      [{ kind: 'Policy', name: 'breaker', severity: 'warning', reason: 'NotRendered', field: 'spec.type', message: 'policy type circuitBreaker is not rendered into xDS yet: it has no effect on proxies' }],
    );
    const detached = buildIR({ revision: 1, resources: catalogue([]) }, unrendered);
    assert.deepEqual(detached.issues.filter((i) => i.kind === 'Policy'), [], 'an unattached policy needs no warning');
  });
});
