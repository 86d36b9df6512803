import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type * as grpc from '@grpc/grpc-js';
import { startTestApp, type TestApp } from '../support/app.js';
import { attempt, type EchoBackend, startEchoBackend } from '../support/echo-backends.js';
import { acked, calls, countOf, latency, routesOf, write } from '../support/policy-traffic.js';
import { apply, endpointOf, eventually, nackCount, useXds, xdsClient } from '../support/xds-client.js';

const NODE = 'timeout-e2e';
const N = 50;
/** The backend answers after this long; the client's own deadline is far away. */
const BACKEND_MS = 300;
const CLIENT_DEADLINE_MS = 5000;
const TIMEOUT_MS = 100;
/**
 * grpc-js turns the route timeout into a deadline from Date.now() (whole
 * milliseconds) and Node timers tick in whole milliseconds: a call may end up to
 * 1 ms before the full 100 ms, measured with performance.now().
 */
const CLOCK_GRAIN_MS = 1;

const route = (policies: string[] = [], rule: Record<string, unknown> = {}) => ({
  kind: 'Route',
  name: 'echo',
  spec: { hosts: ['echo'], policies, rules: [{ backends: [{ service: 'echo', weight: 1 }], ...rule }] },
});
const timeoutPolicy = (requestMs: number) => ({ kind: 'Policy', name: 'echo-timeout', spec: { type: 'timeout', timeout: { requestMs } } });
/** max_stream_duration is what grpc-js-xds reads as the call timeout. */
const sentTimeout = (s: Record<string, any[]>) => routesOf(s, 'echo')[0]?.route?.max_stream_duration;

describe('timeout policies with a real grpc-js-xds client and a slow backend', () => {
  let app: TestApp;
  let backend: EchoBackend;
  let client: grpc.Client;

  /** Every call succeeds after the backend's 300 ms (the client deadline is 5 s). */
  async function assertSlowSuccess(label: string): Promise<void> {
    await eventually(async () => assert.equal((await attempt(client, undefined, CLIENT_DEADLINE_MS)).server, 'a'));
    const os = await calls(client, N, { concurrency: 10, deadlineMs: CLIENT_DEADLINE_MS });
    console.log(`${label}: ${JSON.stringify(countOf(os))}, latency ms ${JSON.stringify(latency(os))}`);
    assert.deepEqual(countOf(os), { a: N });
    assert.ok(os.every((o) => o.ms >= BACKEND_MS - CLOCK_GRAIN_MS), JSON.stringify(latency(os)));
  }

  /**
   * Every call ends DEADLINE_EXCEEDED (the backend would have answered OK at
   * 300 ms, the client's own deadline is 5 s) after the route's 100 ms: none
   * sooner, the median within 100–250 ms.
   */
  async function assertTimedOut(label: string): Promise<void> {
    // Propagation: with a 5 s client deadline, only the route timeout ends a call early.
    await eventually(async () => assert.equal((await attempt(client, undefined, CLIENT_DEADLINE_MS)).code, 'DEADLINE_EXCEEDED'));
    const os = await calls(client, N, { concurrency: 10, deadlineMs: CLIENT_DEADLINE_MS });
    const ms = latency(os);
    console.log(`${label}: ${JSON.stringify(countOf(os))}, latency ms ${JSON.stringify(ms)}`);
    assert.deepEqual(countOf(os), { DEADLINE_EXCEEDED: N });
    assert.ok(ms.min >= TIMEOUT_MS - CLOCK_GRAIN_MS, `a call ended before the timeout: ${JSON.stringify(ms)}`);
    assert.ok(ms.median >= TIMEOUT_MS && ms.median <= 250, `median outside 100–250 ms: ${JSON.stringify(ms)}`);
  }

  before(async () => {
    app = await startTestApp('pglite', { XDS_DEBOUNCE_QUIET_MS: '20' });
    backend = await startEchoBackend('a');
    await apply(app, [{ kind: 'Service', name: 'echo', spec: { protocol: 'grpc', port: 50051 } }, endpointOf('echo', 'a', backend.port), route()]);
    useXds(app.xdsPort, NODE);
    client = xdsClient('echo');
    await eventually(async () => assert.equal((await attempt(client)).server, 'a'));
    backend.behave({ delayMs: BACKEND_MS });
  });

  after(async () => {
    client?.close();
    await app?.stop();
    await backend?.stop();
  });

  it('without a timeout policy, 300 ms calls succeed', async () => {
    await assertSlowSuccess('no timeout');
  });

  it('a timeout Policy {requestMs: 100} on the Route ends the calls with DEADLINE_EXCEEDED after 100 ms', async () => {
    await write(app, 'POST', '/api/v1/policies', timeoutPolicy(TIMEOUT_MS));
    await write(app, 'PUT', '/api/v1/routes/echo', route(['echo-timeout']));
    const sent = await acked(app, NODE, (s) => sentTimeout(s) !== undefined);
    assert.deepEqual(sentTimeout(sent), { max_stream_duration: { seconds: 0, nanos: TIMEOUT_MS * 1e6 } });
    await assertTimedOut('timeout policy {requestMs: 100}');
  });

  it('detaching it lets the calls succeed again, live', async () => {
    await write(app, 'PUT', '/api/v1/routes/echo', route());
    await acked(app, NODE, (s) => routesOf(s, 'echo').length === 1 && sentTimeout(s) === undefined);
    await assertSlowSuccess('timeout policy detached');
  });

  it('the inline timeoutMs: 100 on a rule does the same, and wins over a longer attached policy', async () => {
    await write(app, 'PUT', '/api/v1/policies/echo-timeout', timeoutPolicy(2000));
    await write(app, 'PUT', '/api/v1/routes/echo', route(['echo-timeout'], { timeoutMs: TIMEOUT_MS }));
    const sent = await acked(app, NODE, (s) => sentTimeout(s) !== undefined);
    assert.deepEqual(sentTimeout(sent), { max_stream_duration: { seconds: 0, nanos: TIMEOUT_MS * 1e6 } });
    await assertTimedOut('inline timeoutMs: 100 (over a 2 s policy)');

    // Without the inline value the attached 2 s policy applies: the 300 ms calls fit.
    await write(app, 'PUT', '/api/v1/routes/echo', route(['echo-timeout']));
    const back = await acked(app, NODE, (s) => sentTimeout(s)?.max_stream_duration?.seconds === 2);
    assert.deepEqual(sentTimeout(back), { max_stream_duration: { seconds: 2, nanos: 0 } });
    await assertSlowSuccess('inline removed, 2 s policy');
  });

  it('no NACK from the client', async () => {
    assert.equal(await nackCount(app), 0);
  });
});
