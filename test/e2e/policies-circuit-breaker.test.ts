import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type * as grpc from '@grpc/grpc-js';
import { startTestApp, type TestApp } from '../support/app.js';
import { attempt, type EchoBackend, type Outcome, startEchoBackend } from '../support/echo-backends.js';
import { apply, endpointOf, eventually, nackCount, useXds, xdsClient } from '../support/xds-client.js';

const HOLD_MS = 500;
const DROPPED = /^Call dropped by load balancing policy\.$/;

/**
 * `n` concurrent calls: all started within a few milliseconds, each held HOLD_MS by the backend, so all overlap.
 * They are started one event-loop turn apart, not in one synchronous loop: grpc-js-xds 1.14.1 checks the
 * limit at pick time but counts a call only once it has started, a microtask later (after the call
 * credentials promise), so calls picked in the same synchronous run all see the old count and all pass.
 */
async function burst(client: grpc.Client, n: number): Promise<{ ok: number; dropped: number; other: Outcome[] }> {
  const calls: Promise<Outcome>[] = [];
  for (let i = 0; i < n; i++) {
    calls.push(attempt(client));
    await new Promise((r) => setImmediate(r));
  }
  const outcomes = await Promise.all(calls);
  const ok = outcomes.filter((o) => o.server === 'slow').length;
  const dropped = outcomes.filter((o) => o.code === 'UNAVAILABLE' && DROPPED.test(o.details ?? '')).length;
  return { ok, dropped, other: outcomes.filter((o) => o.server !== 'slow' && !(o.code === 'UNAVAILABLE' && DROPPED.test(o.details ?? ''))) };
}

const breaker = (maxRequests: number) => ({ kind: 'Policy', name: 'echo-breaker', spec: { type: 'circuitBreaker', circuitBreaker: { maxRequests } } });

describe('circuitBreaker policy with a real grpc-js-xds client and a real gRPC backend', () => {
  let app: TestApp;
  let slow: EchoBackend;
  let client: grpc.Client;

  before(async () => {
    app = await startTestApp('pglite', { XDS_DEBOUNCE_QUIET_MS: '20' });
    slow = await startEchoBackend('slow');
    await apply(app, [
      breaker(2),
      { kind: 'Service', name: 'echo', spec: { protocol: 'grpc', port: 50051, policies: ['echo-breaker'] } },
      endpointOf('echo', 'slow', slow.port),
      { kind: 'Route', name: 'echo', spec: { hosts: ['echo'], rules: [{ backends: [{ service: 'echo', weight: 1 }] }] } },
    ]);
    useXds(app.xdsPort, 'cb-client');
    client = xdsClient('echo');
    // Connected and configured before the first burst (the breaker is in the very first CDS the client gets).
    await eventually(async () => assert.equal((await attempt(client)).server, 'slow'));
    slow.behave({ delayMs: HOLD_MS });
  });

  after(async () => {
    client?.close();
    await app?.stop();
    await slow?.stop();
  });

  it('maxRequests: 2 lets 2 of 10 concurrent calls through and drops the other 8 at the client', async () => {
    const before = slow.stats().calls;
    const r = await burst(client, 10);
    assert.deepEqual(r.other, [], 'every call either answered or was dropped by the breaker');
    assert.equal(r.ok, 2, JSON.stringify(r));
    assert.equal(r.dropped, 8, JSON.stringify(r));
    const s = slow.stats();
    assert.equal(s.calls - before, 2, 'the dropped calls never reached the backend');
    assert.ok(s.maxInFlight <= 2, `backend saw ${s.maxInFlight} in flight`);
  });

  it('raising maxRequests to 20 through the REST API takes effect without a restart', async () => {
    const r = await app.http('PATCH', '/api/v1/policies/echo-breaker', { spec: { circuitBreaker: { maxRequests: 20 } } });
    assert.equal(r.status, 200, r.text);
    await eventually(async () => {
      const b = await burst(client, 10);
      assert.equal(b.ok, 10, JSON.stringify(b));
    });
    assert.equal(slow.stats().maxInFlight, 10, 'the 10 calls really were concurrent at the backend');
    // The new limit is 20, not "none": 30 at once still trips it.
    const b = await burst(client, 30);
    assert.deepEqual(b.other, []);
    assert.deepEqual({ ok: b.ok, dropped: b.dropped }, { ok: 20, dropped: 10 });
  });

  it('detaching the policy removes the limit (back to the client default of 1024)', async () => {
    const r = await app.http('PATCH', '/api/v1/services/echo', { spec: { policies: [] } });
    assert.equal(r.status, 200, r.text);
    await eventually(async () => {
      const b = await burst(client, 30);
      assert.equal(b.ok, 30, JSON.stringify(b));
    });
    const b = await burst(client, 10);
    assert.deepEqual({ ok: b.ok, dropped: b.dropped, other: b.other }, { ok: 10, dropped: 0, other: [] });
  });

  it('no proxy NACKed anything', async () => {
    assert.equal(await nackCount(app), 0);
  });
});
