import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type * as grpc from '@grpc/grpc-js';
import { startTestApp, type TestApp } from '../support/app.js';
import { attempt, type EchoBackend, startEchoBackend } from '../support/echo-backends.js';
import { acked, calls, countOf, latency, routesOf, write } from '../support/policy-traffic.js';
import { apply, endpointOf, eventually, nackCount, useXds, xdsClient } from '../support/xds-client.js';

const NODE = 'retry-e2e';
const N = 200;

const service = (policies: string[] = []) => ({ kind: 'Service', name: 'echo', spec: { protocol: 'grpc', port: 50051, policies } });
const route = (policies: string[] = [], rule: Record<string, unknown> = {}) => ({
  kind: 'Route',
  name: 'echo',
  spec: { hosts: ['echo'], policies, rules: [{ backends: [{ service: 'echo', weight: 1 }], ...rule }] },
});
const retryPolicy = { kind: 'Policy', name: 'echo-retry', spec: { type: 'retry', retry: { attempts: 2, on: ['unavailable'], backoff: { baseMs: 10, maxMs: 50 } } } };

/** What the proxyless client gets for that policy (sub-second backoffs, as grpc-js-xds reads them). */
const RENDERED = {
  retry_on: 'unavailable',
  num_retries: { value: 2 },
  retry_back_off: { base_interval: { seconds: 0, nanos: 10_000_000 }, max_interval: { seconds: 0, nanos: 50_000_000 } },
};

describe('retry policies with a real grpc-js-xds client and a backend failing every first attempt', () => {
  let app: TestApp;
  let backend: EchoBackend;
  let client: grpc.Client;

  const retryPolicySent = async () => routesOf(await acked(app, NODE, (s) => routesOf(s, 'echo')[0]?.route?.retry_policy !== undefined), 'echo')[0].route.retry_policy;
  const noRetryPolicySent = () => acked(app, NODE, (s) => routesOf(s, 'echo').length === 1 && routesOf(s, 'echo')[0].route.retry_policy === undefined);

  /** N calls: returns the outcomes and how many attempts the backend received for them. */
  async function measure() {
    const before = backend.stats().calls;
    const os = await calls(client, N);
    return { t: countOf(os), attempts: backend.stats().calls - before, ms: latency(os), failures: os.filter((o) => o.code) };
  }

  /** Without retries: every call fails on its only attempt, with the backend's own error. */
  async function assertFailing(label: string): Promise<void> {
    // Propagation: the first call that fails was routed with the new (retry-less) config.
    await eventually(async () => assert.equal((await attempt(client)).code, 'UNAVAILABLE'));
    const m = await measure();
    console.log(`${label}: ${JSON.stringify(m.t)}, ${m.attempts} attempts at the backend`);
    assert.ok((m.t.UNAVAILABLE ?? 0) >= 0.95 * N, JSON.stringify(m.t));
    assert.ok(m.failures.every((o) => o.details === 'a fails on purpose'), 'the backend error reaches the caller');
    assert.equal(m.attempts, N, 'no call was retried');
  }

  /**
   * With retries: one failed first attempt, one successful retry, for every
   * call, none sooner than the first backoff (grpc-js waits base ± 20 %).
   */
  async function assertRetried(label: string, baseMs: number): Promise<void> {
    // Propagation: a call can only succeed here by being retried.
    await eventually(async () => assert.equal((await attempt(client)).server, 'a'));
    const m = await measure();
    console.log(`${label}: ${JSON.stringify(m.t)}, ${m.attempts} attempts at the backend, latency ms ${JSON.stringify(m.ms)}`);
    assert.deepEqual(m.t, { a: N });
    assert.equal(m.attempts, 2 * N, 'each call: a failed first attempt, then one retry');
    assert.ok(m.ms.min >= 0.8 * baseMs - 1, `a retry came before the ${baseMs} ms backoff: ${JSON.stringify(m.ms)}`);
  }

  before(async () => {
    app = await startTestApp('pglite', { XDS_DEBOUNCE_QUIET_MS: '20' });
    backend = await startEchoBackend('a');
    await apply(app, [service(), endpointOf('echo', 'a', backend.port), route()]);
    useXds(app.xdsPort, NODE);
    client = xdsClient('echo');
    await eventually(async () => assert.equal((await attempt(client)).server, 'a'));
    backend.behave({ fail: 'first' });
  });

  after(async () => {
    client?.close();
    await app?.stop();
    await backend?.stop();
  });

  it('without a retry policy, the failures reach the caller (one attempt per call)', async () => {
    await assertFailing('no policy');
  });

  it('a retry Policy attached to the Route makes every call succeed, live', async () => {
    await write(app, 'POST', '/api/v1/policies', retryPolicy);
    await write(app, 'PUT', '/api/v1/routes/echo', route(['echo-retry']));
    assert.deepEqual(await retryPolicySent(), RENDERED);
    await assertRetried('policy on the Route', 10);
  });

  it('detaching it from the Route brings the failures back, live', async () => {
    await write(app, 'PUT', '/api/v1/routes/echo', route());
    await noRetryPolicySent();
    await assertFailing('detached from the Route');
  });

  it('attached to the Service the route sends to, it does the same; removing the policy undoes it', async () => {
    await write(app, 'PUT', '/api/v1/services/echo', service(['echo-retry']));
    assert.deepEqual(await retryPolicySent(), RENDERED);
    await assertRetried('policy on the Service', 10);

    assert.equal((await app.http('DELETE', '/api/v1/policies/echo-retry')).status, 409, 'still attached');
    await write(app, 'DELETE', '/api/v1/policies/echo-retry?cascade=true');
    assert.deepEqual((await app.http('GET', '/api/v1/services/echo')).body.spec.policies ?? [], []);
    await noRetryPolicySent();
    await assertFailing('policy deleted (cascade)');
  });

  it('the inline shorthand on a route rule does the same, and removing it undoes it', async () => {
    await write(app, 'PUT', '/api/v1/routes/echo', route([], { retry: { attempts: 1, on: ['unavailable'] } }));
    assert.deepEqual(await retryPolicySent(), { retry_on: 'unavailable', num_retries: { value: 1 } });
    // No backoff set: grpc-js-xds's default base, 25 ms.
    await assertRetried('inline retry {attempts: 1}', 25);

    await write(app, 'PUT', '/api/v1/routes/echo', route());
    await noRetryPolicySent();
    await assertFailing('inline retry removed');
  });

  it('no NACK from the client', async () => {
    assert.equal(await nackCount(app), 0);
  });
});
