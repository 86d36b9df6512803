import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TYPE } from '../../src/translate/envoy-types.js';
import { encodeResource } from '../../src/xds/cache/envoy-protos.js';
import { validateEncoded } from '../../src/xds/cache/pgv.js';
import { RouteConfigEncoder } from '../../src/xds/cache/route-encoding.js';

/** A virtual host as translation renders one (weighted, with a header match and per-filter config). */
function vhost(i: number, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: `svc-${i}`,
    domains: [`svc-${i}`, `svc-${i}.example`],
    routes: [
      {
        name: `svc-${i}/0`,
        match: { prefix: '/', headers: [{ name: 'x-canary', string_match: { exact: String(i) } }] },
        route: { weighted_clusters: { clusters: [{ name: `svc-${i}/v1`, weight: { value: 90 - i } }, { name: `svc-${i}/v2`, weight: { value: 10 + i } }] } },
        typed_per_filter_config: {
          'envoy.filters.http.fault': { '@type': 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault', abort: { http_status: 503, percentage: { numerator: i } } },
        },
      },
    ],
    ...over,
  };
}

/** What encoding and checking the whole message gives: the reference the split encoder must equal. */
function whole(resource: Record<string, unknown>) {
  const value = encodeResource(TYPE.route, resource);
  return { value, violations: validateEncoded(TYPE.route, value) };
}

describe('route configurations encoded from their virtual hosts', () => {
  it('gives the bytes and violations of encoding the whole message, with paths under each host’s index', () => {
    const enc = new RouteConfigEncoder();
    // Broken hosts at several places: no domains (min_items), an empty name (min_len), a bad header name, an abort status out of range.
    const hosts = [
      vhost(0),
      vhost(1, { domains: [] }),
      vhost(2),
      vhost(3, { name: '' }),
      vhost(4, { routes: [{ name: 'r', match: { prefix: '/', headers: [{ name: 'bad\nname', present_match: true }] }, route: { cluster: 'c' } }] }),
      vhost(5, {
        routes: [{ name: 'r', match: { prefix: '/' }, route: { cluster: 'c' }, typed_per_filter_config: { f: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault', abort: { http_status: 99 } } } }],
      }),
    ];
    const config = { name: 'edge', virtual_hosts: hosts };
    const want = whole(config);
    assert.ok(want.violations.length >= 4, JSON.stringify(want.violations));
    const got = enc.encode(config)!;
    assert.ok(got);
    assert.deepEqual(Buffer.from(got.value), Buffer.from(want.value));
    assert.deepEqual(got.violations, want.violations);

    // The same render objects, reordered and one replaced: cached pieces land under their new index.
    const next = { name: 'edge', virtual_hosts: [hosts[3], vhost(7), hosts[1], hosts[0], hosts[5]] };
    const again = enc.encode(next)!;
    const ref = whole(next);
    assert.deepEqual(Buffer.from(again.value), Buffer.from(ref.value));
    assert.deepEqual(again.violations, ref.violations);
    assert.ok(again.violations.some((v) => v.path.startsWith('virtual_hosts[2].domains')), JSON.stringify(again.violations));
  });

  it('encodes an empty configuration, and one with no name, as the whole message does', () => {
    const enc = new RouteConfigEncoder();
    for (const config of [{ name: 'x', virtual_hosts: [] }, { virtual_hosts: [vhost(1)] }]) {
      const got = enc.encode(config)!;
      const want = whole(config);
      assert.deepEqual(Buffer.from(got.value), Buffer.from(want.value));
      assert.deepEqual(got.violations, want.violations);
    }
  });

  it('declines a configuration with other fields (it is then encoded whole)', () => {
    const enc = new RouteConfigEncoder();
    assert.equal(enc.encode({ name: 'x', virtual_hosts: [vhost(1)], validate_clusters: { value: true } }), undefined);
    assert.equal(enc.encode({ name: 'x' }), undefined);
  });
});
