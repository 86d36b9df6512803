import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type * as grpc from '@grpc/grpc-js';
import { startTestApp, type TestApp } from '../support/app.js';
import { attempt, type EchoBackend, startEchoBackend } from '../support/echo-backends.js';
import { apply, endpointOf, eventually, nackCount, useXds, xdsClient } from '../support/xds-client.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const INTERVAL = 1000;
const BASE_EJECTION = 2000;
const REQUEST_VOLUME = 10;
const MINIMUM_HOSTS = 3;
/** The sliding window traffic shares are read over, and the fewest calls it must hold to be read. */
const WINDOW = 300;
const WINDOW_MIN_CALLS = 15;

const policy = {
  kind: 'Policy',
  name: 'echo-outliers',
  spec: {
    type: 'outlierDetection',
    outlierDetection: {
      intervalMs: INTERVAL,
      baseEjectionTimeMs: BASE_EJECTION,
      maxEjectionTimeMs: 10000,
      maxEjectionPercent: 50,
      failurePercentage: { threshold: 50, minimumHosts: MINIMUM_HOSTS, requestVolume: REQUEST_VOLUME },
    },
  },
};

/** One call of the steady traffic: when it started (ms, performance.now()), who answered or failed it, and whether it succeeded. */
interface Call {
  t: number;
  who: string;
  ok: boolean;
}

/**
 * Steady traffic: `workers` loops, each one call at a time with a short pause, so about
 * workers × 1000 / (pause + call time) calls a second (a few hundred; each endpoint needs
 * REQUEST_VOLUME per INTERVAL to be judged). A failed call is put down to the backend that
 * failed it, from its "<name> fails on purpose" details.
 */
function startTraffic(client: grpc.Client, workers = 6, pauseMs = 15) {
  const calls: Call[] = [];
  let running = true;
  const loops = Array.from({ length: workers }, async () => {
    while (running) {
      const t = performance.now();
      const o = await attempt(client, undefined, 2000);
      const failedBy = /^(\S+) fails on purpose$/.exec(o.details ?? '')?.[1];
      calls.push({ t, who: o.server ?? failedBy ?? `!${o.code}`, ok: o.server !== undefined });
      await sleep(pauseMs);
    }
  });
  const between = (from: number, to = Infinity) => calls.filter((c) => c.t >= from && c.t < to);
  return {
    calls,
    between,
    /** Share of the calls started in the last WINDOW ms that went to `who`; undefined if too few calls to tell. */
    recentShare(who: string): number | undefined {
      const w = between(performance.now() - WINDOW);
      return w.length < WINDOW_MIN_CALLS ? undefined : w.filter((c) => c.who === who).length / w.length;
    },
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

const count = (calls: Call[]) => {
  const out: Record<string, number> = {};
  for (const c of calls) out[c.who] = (out[c.who] ?? 0) + 1;
  return out;
};

/** Polls `check` every 20 ms; returns when it holds, fails after `ms`. */
async function until(what: string, check: () => boolean, ms: number): Promise<number> {
  const end = performance.now() + ms;
  while (!check()) {
    if (performance.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(20);
  }
  return performance.now();
}

describe('outlierDetection policy with a real grpc-js-xds client and real gRPC backends', () => {
  let app: TestApp;
  let backends: EchoBackend[];
  let client: grpc.Client;
  let traffic: ReturnType<typeof startTraffic> | undefined;

  before(async () => {
    app = await startTestApp('pglite', { XDS_DEBOUNCE_QUIET_MS: '20' });
    backends = await Promise.all(['a', 'b', 'c'].map((n) => startEchoBackend(n)));
    await apply(app, [
      policy,
      { kind: 'Service', name: 'echo', spec: { protocol: 'grpc', port: 50051, policies: ['echo-outliers'] } },
      ...backends.map((b) => endpointOf('echo', b.name, b.port)),
      { kind: 'Route', name: 'echo', spec: { hosts: ['echo'], rules: [{ backends: [{ service: 'echo', weight: 1 }] }] } },
    ]);
    useXds(app.xdsPort, 'outlier-client');
    client = xdsClient('echo');
    // All three endpoints in rotation before the traffic starts.
    await eventually(async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 30; i++) seen.add((await attempt(client)).server ?? '');
      assert.deepEqual([...seen].sort(), ['a', 'b', 'c']);
    });
  });

  after(async () => {
    await traffic?.stop();
    client?.close();
    await app?.stop();
    await Promise.all((backends ?? []).map((b) => b.stop()));
  });

  it('ejects an endpoint that fails every call within 3 intervals, and takes it back after the ejection time once it recovers', async () => {
    const b = backends[1];
    traffic = startTraffic(client);

    // Steady state: enough volume per interval for the failure-percentage check, and b gets its third.
    await sleep(2 * INTERVAL);
    const steady = count(traffic.between(performance.now() - INTERVAL));
    console.log(`# steady traffic over one interval: ${JSON.stringify(steady)}`);
    for (const n of ['a', 'b', 'c']) assert.ok((steady[n] ?? 0) >= 2 * REQUEST_VOLUME, `each endpoint needs >= ${REQUEST_VOLUME} calls per interval to be judged: ${JSON.stringify(steady)}`);
    assert.ok(Math.abs(steady.b / (steady.a + steady.b + steady.c) - 1 / 3) < 0.1, JSON.stringify(steady));

    // b fails every call from now on.
    const failFrom = performance.now();
    b.behave({ fail: 1 });
    const seenOut = await until('b under 5 % of the traffic', () => (traffic!.recentShare('b') ?? 1) < 0.05, 10 * INTERVAL);
    // When b stopped getting calls: the start of the last call it got.
    const ejectedAt = Math.max(...traffic.between(failFrom, seenOut).filter((c) => c.who === 'b').map((c) => c.t));
    const failedCalls = traffic.between(failFrom, seenOut).filter((c) => !c.ok);
    const outAfter = ejectedAt - failFrom;
    console.log(`# b ejected ${outAfter.toFixed(0)} ms after it started failing (bound 3 × ${INTERVAL} ms + scheduling slack); ${failedCalls.length} calls failed meanwhile`);
    assert.ok(failedCalls.length > 0 && failedCalls.every((c) => c.who === 'b'), 'b failed calls, and only b');
    assert.ok(outAfter <= 3 * INTERVAL + INTERVAL / 4, `ejected after ${outAfter.toFixed(0)} ms`);

    // b recovers while still ejected; it must sit out the ejection time regardless.
    const recoveredAt = performance.now();
    b.behave({});
    const seenBack = await until('b back to a third of the traffic', () => (traffic!.recentShare('b') ?? 0) >= 0.25, BASE_EJECTION + 5 * INTERVAL);
    const returnedAt = Math.min(...traffic.between(ejectedAt + 1).filter((c) => c.who === 'b').map((c) => c.t));
    const out = returnedAt - ejectedAt;
    console.log(
      `# b back in rotation ${out.toFixed(0)} ms after its ejection (base ejection ${BASE_EJECTION} ms, unejected at the next ${INTERVAL} ms check), ` +
        `${(returnedAt - recoveredAt).toFixed(0)} ms after it recovered; a third of the traffic again ${(seenBack - recoveredAt).toFixed(0)} ms after it recovered`,
    );
    assert.ok(recoveredAt < returnedAt, 'b recovered before its ejection ended (else this run measured a second ejection)');
    const whileOut = traffic.between(ejectedAt + 1, returnedAt);
    assert.ok(whileOut.length > 0 && whileOut.every((c) => c.ok && c.who !== 'b'), `while b was out, a and c answered every call: ${JSON.stringify(count(whileOut))}`);
    assert.ok(out >= BASE_EJECTION - 50, `b came back ${out.toFixed(0)} ms after its ejection, before the ejection time`);
    assert.ok(out <= BASE_EJECTION + INTERVAL + INTERVAL / 2, `b came back ${out.toFixed(0)} ms after its ejection`);

    // Back in rotation: roughly a third of the calls again, and every call succeeds.
    const from = performance.now();
    await sleep(INTERVAL);
    const back = traffic.between(from, performance.now());
    const t = count(back);
    console.log(`# one interval after b's return: ${JSON.stringify(t)}`);
    assert.ok(back.every((c) => c.ok), JSON.stringify(t));
    assert.ok(Math.abs(t.b / back.length - 1 / 3) < 0.08, `b got ${((t.b / back.length) * 100).toFixed(1)} % (${JSON.stringify(t)})`);
    await traffic.stop();
    traffic = undefined;
  });

  it('no proxy NACKed anything', async () => {
    assert.equal(await nackCount(app), 0);
  });
});
