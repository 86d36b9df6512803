import assert from 'node:assert/strict';
import http from 'node:http';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { applyResult, type CheckState } from '../../src/health/health-state.js';
import { mergeEndpoints } from '../../src/translate/endpoints.js';
import { probeGrpc, probeHttp, probeTcp, refusedTarget } from '../../src/health/probes.js';
import { type EchoBackend, startEchoBackend } from '../support/echo-backends.js';

/** An HTTP server whose /healthz can be switched between healthy, failing, slow and redirecting. */
function switchableHttp(): Promise<{ port: number; mode: { v: 'ok' | 'fail' | 'slow' | 'redirect' }; hits: string[]; close: () => Promise<void> }> {
  const mode = { v: 'ok' as 'ok' | 'fail' | 'slow' | 'redirect' };
  const hits: string[] = [];
  const srv = http.createServer((req, res) => {
    hits.push(req.url!);
    if (req.url === '/elsewhere') return res.end('followed');
    if (mode.v === 'fail') return res.writeHead(503).end('down');
    if (mode.v === 'slow') return setTimeout(() => res.end('late'), 1000);
    if (mode.v === 'redirect') return res.writeHead(302, { location: '/elsewhere' }).end();
    res.end('all good');
  });
  return new Promise((resolve) =>
    srv.listen(0, '127.0.0.1', () =>
      resolve({ port: (srv.address() as { port: number }).port, mode, hits, close: () => new Promise((r) => (srv.closeAllConnections(), srv.close(() => r()))) }),
    ),
  );
}

describe('probes against real servers', () => {
  let web: Awaited<ReturnType<typeof switchableHttp>>;
  let grpcBackend: EchoBackend;
  let tcp: Server;
  let tcpPort: number;
  before(async () => {
    web = await switchableHttp();
    grpcBackend = await startEchoBackend('g');
    tcp = createServer((s) => s.on('data', (d) => s.write(String(d).toUpperCase())));
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', () => r()));
    tcpPort = (tcp.address() as { port: number }).port;
  });
  after(async () => {
    await web.close();
    await grpcBackend.stop();
    tcp.close();
  });

  const httpSpec = { protocol: 'http' as const, timeoutMs: 300, path: '/healthz' };

  it('http: healthy, failing, slow (timeout), body check, and closed', async () => {
    assert.equal((await probeHttp('127.0.0.1', web.port, httpSpec)).ok, true);
    assert.equal((await probeHttp('127.0.0.1', web.port, { ...httpSpec, expectBody: 'good' })).ok, true);
    assert.equal((await probeHttp('127.0.0.1', web.port, { ...httpSpec, expectBody: 'great' })).ok, false);
    web.mode.v = 'fail';
    assert.deepEqual((await probeHttp('127.0.0.1', web.port, httpSpec)).detail, 'HTTP 503');
    assert.equal((await probeHttp('127.0.0.1', web.port, { ...httpSpec, expectedStatuses: [{ start: 500, end: 504 }] })).ok, true);
    web.mode.v = 'slow';
    const slow = await probeHttp('127.0.0.1', web.port, httpSpec);
    assert.equal(slow.ok, false);
    assert.match(slow.detail, /timeout after 300 ms/);
    web.mode.v = 'ok';
    const closed = await probeHttp('127.0.0.1', 1, httpSpec);
    assert.equal(closed.ok, false);
    assert.match(closed.detail, /ECONNREFUSED/);
  });

  it('http: never follows redirects', async () => {
    web.mode.v = 'redirect';
    web.hits.length = 0;
    const r = await probeHttp('127.0.0.1', web.port, httpSpec);
    web.mode.v = 'ok';
    assert.equal(r.ok, false);
    assert.equal(r.detail, 'HTTP 302');
    assert.deepEqual(web.hits, ['/healthz'], 'the redirect target was not fetched');
  });

  it('tcp: connect, send/expect, and closed', async () => {
    assert.equal((await probeTcp('127.0.0.1', tcpPort, { protocol: 'tcp', timeoutMs: 300 })).ok, true);
    assert.equal((await probeTcp('127.0.0.1', tcpPort, { protocol: 'tcp', timeoutMs: 300, send: 'ping', expect: 'PING' })).ok, true);
    assert.equal((await probeTcp('127.0.0.1', tcpPort, { protocol: 'tcp', timeoutMs: 300, send: 'ping', expect: 'pong' })).ok, false);
    assert.equal((await probeTcp('127.0.0.1', 1, { protocol: 'tcp', timeoutMs: 300 })).ok, false);
  });

  it('grpc: grpc.health.v1 SERVING, NOT_SERVING, and closed', async () => {
    const spec = { protocol: 'grpc' as const, timeoutMs: 500 };
    assert.equal((await probeGrpc('127.0.0.1', grpcBackend.port, spec)).ok, true);
    grpcBackend.setServing(false);
    const r = await probeGrpc('127.0.0.1', grpcBackend.port, spec);
    assert.equal(r.ok, false);
    assert.equal(r.detail, 'NOT_SERVING');
    grpcBackend.setServing(true);
    assert.equal((await probeGrpc('127.0.0.1', 1, { ...spec, timeoutMs: 300 })).ok, false);
  });

  it('refuses link-local and cloud-metadata targets unless allowed', () => {
    assert.match(refusedTarget('169.254.169.254', false)!, /metadata/);
    assert.match(refusedTarget('169.254.1.1', false)!, /link-local/);
    assert.match(refusedTarget('fe80::1', false)!, /link-local/);
    assert.equal(refusedTarget('10.0.0.1', false), undefined);
    assert.equal(refusedTarget('169.254.169.254', true), undefined);
  });
});

describe('check state machine and effective health', () => {
  const t = { healthyThreshold: 2, unhealthyThreshold: 3 };
  const run = (start: CheckState, results: boolean[]) => {
    let s = start;
    const transitions: string[] = [];
    for (const ok of results) {
      const out = applyResult(s, { ok, detail: ok ? 'ok' : 'bad', ms: 1 }, t, 'now');
      s = out.next;
      if (out.transition) transitions.push(`${out.transition.from}→${out.transition.to}`);
    }
    return { s, transitions };
  };

  it('needs unhealthyThreshold failures to go down and healthyThreshold passes to come back', () => {
    const r = run({ state: 'healthy', successes: 0, failures: 0 }, [false, false, false, true, true]);
    assert.deepEqual(r.transitions, ['healthy→unhealthy', 'unhealthy→healthy']);
    assert.equal(run({ state: 'unknown', successes: 0, failures: 0 }, [true]).s.state, 'healthy', 'first pass from unknown');
  });

  it('a flapping endpoint (pass/fail alternating) never changes state', () => {
    const r = run({ state: 'healthy', successes: 0, failures: 0 }, Array.from({ length: 20 }, (_, i) => i % 2 === 0));
    assert.deepEqual(r.transitions, []);
  });

  it('admin health wins; panic keeps failing endpoints when more than the share fail', () => {
    const ep = (name: string, health?: string) => ({ kind: 'Endpoint', name, service: 's', labels: {}, spec: { address: '10.0.0.1', port: 1, ...(health ? { health } : {}) }, version: 1, createdAt: '', updatedAt: '', status: {} }) as any;
    const eps = ['a', 'b', 'c'].map((n) => ep(n));
    const health = (m: ReturnType<typeof mergeEndpoints>, n: string) => m.endpoints.find((e) => e.name === n)!.spec.health;
    const one = mergeEndpoints('s', { durable: eps, heartbeat: [], checked: new Map([['a', 'unhealthy'], ['b', 'healthy'], ['c', 'healthy']]) }, 0.5);
    assert.equal(one.panic, undefined);
    assert.equal(health(one, 'a'), 'unhealthy');
    const two = mergeEndpoints('s', { durable: eps, heartbeat: [], checked: new Map([['a', 'unhealthy'], ['b', 'unhealthy'], ['c', 'healthy']]) }, 0.5);
    assert.deepEqual(two.panic, { failing: 2, total: 3 });
    assert.equal(health(two, 'a'), 'unknown', 'kept in rotation');
    const drained = mergeEndpoints('s', { durable: [ep('a', 'draining')], heartbeat: [], checked: new Map([['a', 'healthy']]) }, 0.5);
    assert.equal(health(drained, 'a'), 'draining');
  });
});
