import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TokenBuckets } from '../../src/auth/rate-limit.js';
import { type Principal, refusal, scopesWithin } from '../../src/auth/roles.js';
import { hashSecret, newSecret, parseSecret, verifySecret } from '../../src/auth/secrets.js';

const p = (roles: Principal['roles'], scopes: Principal['scopes'] = {}): Principal => ({ id: 'x', actor: 'token:x', roles, scopes });

describe('roles and scopes', () => {
  it('each role includes the ones before it', () => {
    assert.equal(refusal(p(['admin']), { role: 'viewer', target: 'global' }), undefined);
    assert.equal(refusal(p(['operator']), { role: 'operator', target: { kinds: ['Endpoint'] } }), undefined);
    assert.match(refusal(p(['operator']), { role: 'editor', target: { kinds: ['Route'] } })!, /needs the editor role/);
    assert.match(refusal(p([]), { role: 'viewer', target: 'none' })!, /no role/);
  });

  it('every scope that is set must cover the request, and keeps to its kinds', () => {
    const reg = p(['operator'], { services: ['a'] });
    assert.equal(refusal(reg, { role: 'operator', target: { kinds: ['Endpoint'], services: ['a'] } }), undefined);
    assert.match(refusal(reg, { role: 'operator', target: { kinds: ['Endpoint'], services: ['b'] } })!, /not b/);
    assert.match(refusal(reg, { role: 'viewer', target: { kinds: ['Route'] } })!, /touches Route/);
    assert.match(refusal(reg, { role: 'viewer', target: 'global' })!, /scoped token/);
    assert.equal(refusal(reg, { role: 'viewer', target: 'none' }), undefined);
    const ns = p(['editor'], { namespaces: ['shop'] });
    assert.equal(refusal(ns, { role: 'editor', target: { kinds: ['Config'], namespaces: ['shop'] } }), undefined);
    assert.ok(refusal(ns, { role: 'editor', target: { kinds: ['Config', 'Service'], namespaces: ['shop'], services: ['x'] } }));
    assert.ok(refusal(ns, { role: 'viewer', target: { kinds: ['Config'] } }), 'all namespaces');
    const kinds = p(['editor'], { kinds: ['Route', 'Policy'] });
    assert.equal(refusal(kinds, { role: 'editor', target: { kinds: ['Policy'] } }), undefined);
    assert.ok(refusal(kinds, { role: 'editor', target: { kinds: ['Policy', 'Service'] } }));
  });

  it('a scope is within another only when narrower on every dimension the other sets', () => {
    assert.ok(scopesWithin({ services: ['a'] }, {}));
    assert.ok(scopesWithin({ services: ['a'], kinds: ['Endpoint'] }, { services: ['a', 'b'] }));
    assert.ok(!scopesWithin({}, { services: ['a'] }));
    assert.ok(!scopesWithin({ services: ['c'] }, { services: ['a'] }));
  });
});

describe('token secrets', () => {
  it('sy_<id>_<random>, verified against a salted scrypt hash', async () => {
    const { id, secret } = newSecret();
    const parsed = parseSecret(secret)!;
    assert.equal(parsed.id, id);
    const { salt, hash } = await hashSecret(parsed.random);
    assert.ok(await verifySecret(parsed.random, salt, hash));
    assert.ok(!(await verifySecret(parseSecret(newSecret().secret)!.random, salt, hash)));
    for (const bad of ['', 'sy_', `sy_${id}_short`, secret.replace('sy_', 'xy_'), `${secret}x`]) assert.equal(parseSecret(bad), undefined, bad);
  });
});

describe('token buckets', () => {
  it('allow a burst, then refill at the rate; each identity has its own', () => {
    let now = 0;
    const b = new TokenBuckets(2, 3, () => now);
    assert.deepEqual([b.take('a'), b.take('a'), b.take('a')], [0, 0, 0]);
    assert.equal(b.take('a'), 1, 'seconds to wait');
    assert.equal(b.take('b'), 0);
    now += 500;
    assert.equal(b.take('a'), 0, 'one more after half a second at 2/s');
    assert.equal(b.take('a'), 1);
    assert.equal(new TokenBuckets(0, 1, () => now).take('a'), 0, '0 = no limit');
  });
});
