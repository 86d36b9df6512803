import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type * as grpc from '@grpc/grpc-js';
import { startTestApp, type TestApp } from '../support/app.js';
import { attempt, type EchoBackend, type Outcome, startEchoBackend } from '../support/echo-backends.js';
import { acked, calls, countOf, latency, median, routesOf, write } from '../support/policy-traffic.js';
import { assertShare } from '../support/shares.js';
import { apply, endpointOf, eventually, nackCount, useXds, xdsClient } from '../support/xds-client.js';

const NODE = 'fault-e2e';
const FAULT = 'envoy.filters.http.fault';
const DELAY_MS = 200;
/** Node timers tick in whole milliseconds: a 200 ms timer may fire up to 1 ms early by performance.now(). */
const CLOCK_GRAIN_MS = 1;

const route = (policies: string[] = []) => ({
  kind: 'Route',
  name: 'echo',
  spec: { hosts: ['echo'], policies, rules: [{ backends: [{ service: 'echo', weight: 1 }] }] },
});
const chaos = (faultInjection: Record<string, unknown>) => ({ kind: 'Policy', name: 'chaos', spec: { type: 'faultInjection', faultInjection } });

/** The fault filter in the client's connection manager, and the route's own fault config. */
const filters = (s: Record<string, any[]>) => (s.LDS?.find((l) => l.name === 'echo')?.api_listener?.api_listener?.http_filters ?? []).map((f: any) => f.name);
const routeFault = (s: Record<string, any[]>) => routesOf(s, 'echo')[0]?.typed_per_filter_config?.[FAULT];

describe('fault injection policies with a real grpc-js-xds client', () => {
  let app: TestApp;
  let backend: EchoBackend;
  let client: grpc.Client;
  let baseline: Outcome[];

  /** Calls, and how many of them reached the backend. */
  async function measure(n: number, concurrency = 25) {
    const before = backend.stats().calls;
    const os = await calls(client, n, { concurrency });
    return { os, t: countOf(os), ms: latency(os), reached: backend.stats().calls - before };
  }

  before(async () => {
    app = await startTestApp('pglite', { XDS_DEBOUNCE_QUIET_MS: '20' });
    backend = await startEchoBackend('a');
    await apply(app, [{ kind: 'Service', name: 'echo', spec: { protocol: 'grpc', port: 50051 } }, endpointOf('echo', 'a', backend.port), route()]);
    useXds(app.xdsPort, NODE);
    client = xdsClient('echo');
    await eventually(async () => assert.equal((await attempt(client)).server, 'a'));
  });

  after(async () => {
    client?.close();
    await app?.stop();
    await backend?.stop();
  });

  it('without a policy: no fault filter, clean fast calls', async () => {
    const sent = await acked(app, NODE, (s) => routesOf(s, 'echo').length === 1);
    assert.deepEqual(filters(sent), ['envoy.filters.http.router']);
    const m = await measure(200);
    baseline = m.os;
    console.log(`no policy: ${JSON.stringify(m.t)}, latency ms ${JSON.stringify(m.ms)}`);
    assert.deepEqual(m.t, { a: 200 });
    assert.equal(m.reached, 200);
    assert.ok(m.ms.median < DELAY_MS / 2, `calls are not fast without a fault: ${JSON.stringify(m.ms)}`);
  });

  it('abort {grpcStatus: UNAVAILABLE, percent: 30} fails 30 % (binomial band) of 1000 calls in the client, with "Fault injected"', async () => {
    await write(app, 'POST', '/api/v1/policies', chaos({ abort: { grpcStatus: 'UNAVAILABLE', percent: 30 } }));
    await write(app, 'PUT', '/api/v1/routes/echo', route(['chaos']));
    const sent = await acked(app, NODE, (s) => routeFault(s) !== undefined);
    assert.deepEqual(filters(sent), [FAULT, 'envoy.filters.http.router']);
    assert.deepEqual(routeFault(sent).abort, { grpc_status: 14, percentage: { numerator: 300000, denominator: 'MILLION' } });
    // Propagation: an injected failure.
    await eventually(async () => assert.equal((await attempt(client)).details, 'Fault injected'));

    const m = await measure(1000);
    const aborted = m.os.filter((o) => o.code);
    console.log(`abort 30 %: ${JSON.stringify(m.t)} (${(aborted.length / 10).toFixed(1)} % aborted), ${m.reached} reached the backend`);
    assert.equal((m.t.a ?? 0) + (m.t.UNAVAILABLE ?? 0), 1000, JSON.stringify(m.t));
    assertShare(aborted.length, 1000, 30, 'aborted');
    assert.ok(aborted.every((o) => o.details === 'Fault injected'), JSON.stringify(aborted.find((o) => o.details !== 'Fault injected')));
    assert.equal(m.reached, m.t.a, 'aborted calls never reach the backend');
  });

  it('delay {fixedMs: 200, percent: 100} (the same policy, edited) adds 200 ms to every call', async () => {
    await write(app, 'PUT', '/api/v1/policies/chaos', chaos({ delay: { fixedMs: DELAY_MS, percent: 100 } }));
    const sent = await acked(app, NODE, (s) => routeFault(s)?.delay !== undefined);
    assert.deepEqual(routeFault(sent), {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault',
      delay: { fixed_delay: { seconds: 0, nanos: DELAY_MS * 1e6 }, percentage: { numerator: 1000000, denominator: 'MILLION' } },
    });
    await eventually(async () => {
      const o = await attempt(client);
      assert.ok(o.server === 'a' && o.ms >= DELAY_MS - CLOCK_GRAIN_MS, JSON.stringify(o));
    });

    const m = await measure(100);
    const base = latency(baseline);
    console.log(`delay 200 ms: ${JSON.stringify(m.t)}, latency ms ${JSON.stringify(m.ms)} (without: ${JSON.stringify(base)})`);
    assert.deepEqual(m.t, { a: 100 }, 'delayed, not failed');
    assert.equal(m.reached, 100);
    assert.ok(m.ms.min >= DELAY_MS - CLOCK_GRAIN_MS, `a call was not delayed: ${JSON.stringify(m.ms)}`);
    // Against the same calls (same concurrency) without the policy: the distribution moved by the delay
    // (a quarter of it left as slack for a loaded box, where the two runs see different load).
    assert.ok(median(m.os.map((o) => o.ms)) - median(baseline.map((o) => o.ms)) >= 0.75 * DELAY_MS, `median ${m.ms.median} vs ${base.median} without`);
  });

  it('detaching the policy restores clean, fast calls without a restart', async () => {
    await write(app, 'PUT', '/api/v1/routes/echo', route());
    const sent = await acked(app, NODE, (s) => routesOf(s, 'echo').length === 1 && routeFault(s) === undefined);
    assert.deepEqual(filters(sent), ['envoy.filters.http.router']);
    await eventually(async () => {
      const o = await attempt(client);
      assert.ok(o.server === 'a' && o.ms < DELAY_MS / 2, JSON.stringify(o));
    });

    const m = await measure(200);
    const slow = m.os.filter((o) => o.ms >= DELAY_MS - CLOCK_GRAIN_MS).length;
    console.log(`detached: ${JSON.stringify(m.t)}, latency ms ${JSON.stringify(m.ms)}, ${slow} call(s) ≥ ${DELAY_MS} ms`);
    assert.deepEqual(m.t, { a: 200 });
    assert.equal(m.reached, 200);
    assert.ok(m.ms.median < DELAY_MS / 2, JSON.stringify(m.ms));
    // No delay is injected any more: a stray slow call on a loaded box is not a 100 % delay.
    assert.ok(slow <= 10, `${slow} calls took ${DELAY_MS} ms or more`);
  });

  it('no NACK from the client', async () => {
    assert.equal(await nackCount(app), 0);
  });
});
