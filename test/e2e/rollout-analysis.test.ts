import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import type * as grpc from '@grpc/grpc-js';
import { startTestApp, type TestApp } from '../support/app.js';
import { attempt, type EchoBackend, startEchoBackend, tally } from '../support/echo-backends.js';
import { echoService } from '../support/fixtures.js';
import { trackPriorityRetentionTimers } from '../support/priority-timers.js';
import { apply, endpointOf, eventually, nackCount, useXds, xdsClient } from '../support/xds-client.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Calls at a steady pace until stopped. */
function pace(client: grpc.Client, everyMs: number, concurrency = 1): () => Promise<void> {
  let running = true;
  const loops = Array.from({ length: concurrency }, async () => {
    while (running) {
      await attempt(client);
      await sleep(everyMs);
    }
  });
  return async () => {
    running = false;
    await Promise.all(loops);
  };
}

/** A small HTTP server standing in for Prometheus and for webhook targets: the test sets what it answers. */
function fakeHttp(): Promise<{ port: number; answer: Record<string, { status: number; body: unknown }>; hits: string[]; close(): Promise<void> }> {
  const answer: Record<string, { status: number; body: unknown }> = {};
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    const path = new URL(req.url!, 'http://x').pathname;
    hits.push(`${req.method} ${req.url}`);
    const a = answer[path] ?? { status: 404, body: {} };
    res.writeHead(a.status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(a.body));
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ port: (server.address() as { port: number }).port, answer, hits, close: () => new Promise((r) => server.close(() => r())) })),
  );
}

const prom = (v: number) => ({ status: 200, body: { status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [Date.now() / 1000, String(v)] }] } } });
const route = { kind: 'Route', name: 'echo', spec: { hosts: ['echo'], rules: [{ backends: [{ service: 'echo', subset: 'v1', weight: 100 }] }] } };

/** The canary is judged on what real grpc-js-xds clients report over LRS (and, for latency, on Prometheus). */
describe('rollout analysis on live load reports (real grpc-js-xds client, LRS)', () => {
  let app: TestApp;
  let v1: EchoBackend, v2: EchoBackend;
  let client: grpc.Client;
  let fake: Awaited<ReturnType<typeof fakeHttp>>;
  const retention = trackPriorityRetentionTimers();

  before(async () => {
    fake = await fakeHttp();
    app = await startTestApp('pglite', { XDS_DEBOUNCE_QUIET_MS: '20', ROLLOUT_TICK_MS: '100', PROMETHEUS_URL: `http://127.0.0.1:${fake.port}` });
    [v1, v2] = await Promise.all([startEchoBackend('v1'), startEchoBackend('v2')]);
    await apply(app, [echoService(), endpointOf('echo', 'v1', v1.port, { labels: { version: 'v1' } }), endpointOf('echo', 'v2', v2.port, { labels: { version: 'v2' } }), route]);
    useXds(app.xdsPort, 'analysis-client');
    client = xdsClient('echo');
    await eventually(async () => assert.deepEqual(await tally(client, 20), { v1: 20 }));
  });

  after(async () => {
    client?.close();
    await app?.stop();
    await Promise.all([v1, v2].map((b) => b?.stop()));
    await fake?.close();
    retention.release();
  });

  const state = async (name: string) => (await app.http('GET', `/api/v1/rollouts/${name}`)).body.status.rollout;
  const rolloutOf = (name: string, extra: Record<string, unknown>) => ({ kind: 'Rollout', name, spec: { service: 'echo', stable: 'v1', canary: 'v2', ...extra } });

  it('a bad canary (20 % of its calls fail) is rolled back by itself within interval × (failureLimit + 1), with the measured rate in the reason', async () => {
    v2.behave({ fail: 0.2 });
    const stop = pace(client, 5, 4);
    try {
      await apply(app, [rolloutOf('bad', { steps: [{ setWeight: 50 }, { pause: { seconds: 600 } }], analysis: { intervalSeconds: 2, failureLimit: 2, minRequests: 20, metrics: [{ name: 'successRate', min: 99 }] } })]);
      const shifted = await eventually(async () => {
        const s = await state('bad');
        assert.equal(s?.weights.canary, 50);
        return Date.parse(s.routedAt);
      });
      const failed = await eventually(async () => {
        const s = await state('bad');
        assert.equal(s.phase, 'Failed', JSON.stringify(s.lastAnalysis ?? s.message));
        return Date.parse(s.history.at(-1).at);
      }, 20000);
      const firstBadIntervalEnds = shifted + 2000;
      assert.ok(failed - firstBadIntervalEnds <= 2000 * 3, `rolled back ${failed - firstBadIntervalEnds} ms after the first bad interval (bound ${2000 * 3} ms)`);
      const s = await state('bad');
      assert.deepEqual(s.weights, { stable: 100, canary: 0 });
      const measured = s.lastAnalysis.metrics[0];
      assert.equal(measured.result, 'Failed');
      assert.ok(measured.value > 60 && measured.value < 95, `measured success rate ${measured.value} %`);
      assert.match(s.message, new RegExp(`analysis failed 2 time\\(s\\) in a row: successRate ${measured.value}`));
      assert.ok(s.lastAnalysis.canaryRequests >= 20, 'judged on real reported requests');
      console.log(`# bad canary: rolled back ${failed - firstBadIntervalEnds} ms after the first bad interval; canary success rate ${measured.value} % over ${s.lastAnalysis.canaryRequests} requests`);
    } finally {
      await stop();
      v2.behave({});
    }
    await eventually(async () => assert.deepEqual(await tally(client, 200), { v1: 200 }), 5000);
  });

  it('too little traffic is inconclusive, and the rollout does not advance', async () => {
    const stop = pace(client, 100);
    try {
      await apply(app, [rolloutOf('quiet', { steps: [{ setWeight: 10 }, { pause: { seconds: 2 } }, { setWeight: 90 }], analysis: { intervalSeconds: 1, failureLimit: 1, minRequests: 500, metrics: [{ name: 'successRate', min: 99 }] } })]);
      await eventually(async () => assert.equal((await state('quiet'))?.lastAnalysis?.result, 'Inconclusive'));
      await sleep(4000);
      const s = await state('quiet');
      assert.equal(s.phase, 'Progressing');
      assert.equal(s.step, 1, 'still in the pause after twice its length');
      assert.equal(s.weights.canary, 10);
      assert.equal(s.lastAnalysis.result, 'Inconclusive');
      assert.match(s.message, /holding: the last analysis was inconclusive/);
      assert.equal(s.consecutiveFailures, 0, 'inconclusive is not a failure either');
    } finally {
      await stop();
    }
    assert.equal((await app.http('POST', '/api/v1/rollouts/quiet/abort')).status, 200);
    await eventually(async () => assert.equal((await state('quiet')).phase, 'Aborted'));
  });

  it('a healthy canary passes on LRS success rate and Prometheus latency, and gets through a confirmPromotion webhook once it says yes', async () => {
    fake.answer['/api/v1/query'] = prom(120);
    fake.answer['/confirm'] = { status: 403, body: { reason: 'not yet' } };
    fake.answer['/post'] = { status: 200, body: {} };
    const stop = pace(client, 5, 4);
    try {
      await apply(app, [
        rolloutOf('good', {
          steps: [{ setWeight: 50 }, { pause: { seconds: 1 } }],
          analysis: { intervalSeconds: 1, failureLimit: 2, minRequests: 10, metrics: [{ name: 'successRate', min: 99 }, { name: 'successRateVsStable', maxDropPoints: 1 }, { name: 'latencyP99', maxMs: 500, query: 'histogram_quantile(0.99, rate(rpc_ms_bucket{subset="{{canary}}"}[{{interval}}]))' }] },
          webhooks: { confirmPromotion: { url: `http://127.0.0.1:${fake.port}/confirm` }, postRollout: { url: `http://127.0.0.1:${fake.port}/post` } },
        }),
      ]);
      await eventually(async () => {
        const s = await state('good');
        assert.equal(s.phase, 'Promoting', JSON.stringify(s.message));
        assert.match(s.message, /waiting for confirmPromotion: HTTP 403/);
      });
      const a = (await state('good')).lastAnalysis;
      assert.equal(a.result, 'Successful');
      assert.deepEqual(a.metrics.map((m: any) => [m.name, m.result]), [['successRate', 'Successful'], ['successRateVsStable', 'Successful'], ['latencyP99', 'Successful']]);
      assert.equal(a.metrics[2].value, 120, 'latency is what Prometheus said');
      assert.ok(fake.hits.some((h) => h.includes(encodeURIComponent('subset="v2"')) && h.includes(encodeURIComponent('[1s]'))), 'the query template was filled in');
      fake.answer['/confirm'] = { status: 200, body: {} };
      await eventually(async () => assert.equal((await state('good')).phase, 'Succeeded'), 20000);
      await eventually(async () => assert.ok(fake.hits.some((h) => h.startsWith('POST /post'))));
    } finally {
      await stop();
    }
  });

  it('a refused preRollout webhook fails the rollout before any traffic moves', async () => {
    fake.answer['/pre'] = { status: 503, body: { reason: 'freeze' } };
    const before = (await app.http('GET', '/api/v1/routes/echo')).body.version;
    await apply(app, [rolloutOf('frozen', { stable: 'v2', canary: 'v1', steps: [{ setWeight: 50 }], webhooks: { preRollout: { url: `http://127.0.0.1:${fake.port}/pre` } } })]);
    await eventually(async () => assert.equal((await state('frozen'))?.phase, 'Failed'));
    assert.match((await state('frozen')).message, /preRollout webhook refused: HTTP 503/);
    assert.equal((await app.http('GET', '/api/v1/routes/echo')).body.version, before, 'no route was written');
  });

  it('latency with no query is reported as unavailable, not made up; and no config was refused', async () => {
    await apply(app, [{ kind: 'Rollout', name: 'frozen', spec: { service: 'echo', stable: 'v2', canary: 'v1', steps: [{ setWeight: 20 }, { pause: {} }], analysis: { intervalSeconds: 1, failureLimit: 3, minRequests: 1, metrics: [{ name: 'latencyP99', maxMs: 100 }] } } }]);
    const stop = pace(client, 5, 2);
    try {
      await eventually(async () => {
        const s = await state('frozen');
        const m = s?.lastAnalysis?.metrics?.[0];
        assert.equal(m?.result, 'Unavailable', JSON.stringify(s));
        assert.equal(m.value, null);
        assert.match(m.message, /load reports carry no latency/);
        // What is checked is the verdict, not how soon: the first analysis waits for the restart, the route write and an interval of reports.
      }, 45000);
    } finally {
      await stop();
    }
    assert.equal(await nackCount(app), 0);
  });
});
