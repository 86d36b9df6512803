import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AppConfig } from '../../src/config/config.js';
import { Catalogue } from '../../tools/simulate/catalogue.js';
import { type ControlPlane, settledSample, spawnControlPlane } from '../../tools/simulate/control-plane.js';
import { Fleet } from '../../tools/simulate/fleet.js';
import type { ProxySpec } from '../../tools/simulate/messages.js';
import { now, percentiles, sleep } from '../../tools/simulate/stats.js';
import { CHAOS_FULL, chaosScale, reportChaos } from '../support/chaos.js';
import { type EchoXds, failures, nacksAt, startEchoXds, steadyCalls } from '../support/chaos-fleet.js';

/**
 * Issue 16: "Slow proxies that never read: per-stream memory stays bounded;
 * the others' push p99 is unchanged within ±10 %". One control plane at the
 * default debounce, a measured fleet of ADS clients (the simulator's worker
 * processes) and a steady grpc-js-xds client. The phases go A, B, A: the
 * fleet alone; then with slow proxies that connected, synced once and stopped
 * reading (HTTP/2 flow control backs up on the server); then alone again
 * after they left. The two halves of A sit on either side of B, so whatever
 * drifts with time on a shared machine (a control run with no slow proxies
 * moved the p99 by 15 % between two consecutive phases) weighs on both sides
 * alike. The heap is read after a full GC around each phase.
 */
const PROXIES = chaosScale(1000, 100);
/**
 * Slow proxies in phase B. CHAOS_SLOW_PROXIES=0 makes a control run: two
 * phases with the same fleet, which shows how far the p99 moves by itself.
 */
const SLOW = process.env.CHAOS_SLOW_PROXIES === undefined ? chaosScale(50, 50) : Number(process.env.CHAOS_SLOW_PROXIES);
const SERVICES = chaosScale(1000, 100);
const ENDPOINTS = 10;
const WORKERS = 2;
/** Changes in phase B, and in the two halves of phase A together; the first WARMUP are not measured (JIT and first-push costs). */
const CHANGES = chaosScale(60, 12);
const WARMUP = chaosScale(6, 2);
const INTERVAL_MS = chaosScale(500, 250);
/**
 * What the slow proxies may add to the heap over phase B. A SotW stream has
 * at most one response per type in flight until it is ACKed, and an unread
 * stream never ACKs, so it is sent one more response per type and then only
 * remembers that it is behind. Those responses are the bytes every stream
 * shares (encoded once), so growth is per-stream bookkeeping plus what the
 * encodings cache keeps between prunes: up to 1 Mi characters of superseded
 * keys, each standing for its JSON object and bytes (src/xds/cache/cache.ts,
 * pruneSlackChars). Control runs with no slow proxies grew 2.3 MiB over phase
 * B at the full size, so the cache's share is 4 MiB, and 32 KiB per stream.
 */
const HEAP_GROWTH_LIMIT = 4 * 2 ** 20 + SLOW * 32 * 2 ** 10;
/**
 * The issue asks for the others' push p99 within ±10 %. On the 2-core machine
 * the fleet, the control plane and the test share, control runs with no slow
 * proxies moved it by −24 % to +15 % between phases (RELIABILITY.md), so ±10 %
 * cannot be decided here either way. The full form asserts what it can: no
 * more than this factor over the slower half of phase A.
 */
const P99_FACTOR = 1.5;
const STEP_TIMEOUT_MS = 60_000;

/** Fails with `what` instead of waiting forever. */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (t = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms)))]);
  } finally {
    clearTimeout(t);
  }
}

describe('chaos: slow proxies that never read', { timeout: chaosScale(1_800_000, 300_000) }, () => {
  let cp: ControlPlane;
  let echo: EchoXds;
  let fleet: Fleet | undefined;
  let slowFleet: Fleet | undefined;

  before(async () => {
    cp = await spawnControlPlane({ debounceMs: new AppConfig().XDS_DEBOUNCE_QUIET_MS, timeoutMs: 120_000 });
    await within(new Catalogue(cp.api, { services: SERVICES, endpoints: ENDPOINTS, groups: 1 }).seed(), 600_000, 'seeding');
    echo = await within(startEchoXds(cp.api, Number(cp.xds.split(':')[1]), 'chaos-slow'), 60_000, 'the steady client');
  });

  after(async () => {
    await fleet?.stop();
    await slowFleet?.stop();
    await echo?.stop();
    await cp?.stop();
  });

  it(`${SLOW} proxies that stop reading leave memory bounded and the others' pushes unchanged`, async () => {
    const catalogue = new Catalogue(cp.api, { services: SERVICES, endpoints: ENDPOINTS, groups: 1 });
    const specs: ProxySpec[] = Array.from({ length: PROXIES }, (_, i) => ({ index: i, id: `fast-${i}`, kind: 'envoy-sotw', group: 'g0' }));
    fleet = await within(Fleet.launch(WORKERS), STEP_TIMEOUT_MS, 'launching the fleet');
    const f = fleet;
    const load = steadyCalls(echo.client);
    f.start(specs, { target: cp.xds, start: now() + 300, connectRate: 0, streamsPerConnection: 50, ackDelayMs: 0, criterion: 'version' });
    await f.waitSynced(180_000);

    let index = 0;
    /**
     * Pushes `n` changes (health and weight in turn). Returns each change's
     * time until every measured proxy ACKed it, every proxy's time to ACK each
     * change, and the bytes one proxy received.
     */
    const phase = async (n: number): Promise<{ perChange: number[]; perProxy: number[]; bytesPerProxy: number }> => {
      const out = { perChange: [] as number[], perProxy: [] as number[], bytesPerProxy: 0 };
      for (let k = 0; k < n; k++, index++) {
        const plan = catalogue.plan(index, index % 2 ? 'weight' : 'health');
        const began = now();
        await within(f.arm(index, plan.expect), STEP_TIMEOUT_MS, `arming change ${index}`);
        const t0 = now();
        await within(plan.write(), STEP_TIMEOUT_MS, `writing change ${index}`);
        const { report, complete } = await f.waitConverged(index, STEP_TIMEOUT_MS);
        assert.ok(complete, `change ${index} (${plan.kind} ${plan.target}): ${report.expected - report.converged} of ${report.expected} did not ACK (e.g. ${report.missing.join(', ')})`);
        assert.equal(report.unexpected, 0, `change ${index}: responses of types it should not change`);
        out.perChange.push(Math.max(...report.times) - t0);
        out.perProxy.push(...report.times.map((x) => x - t0));
        out.bytesPerProxy += report.bytes / report.expected;
        await sleep(Math.max(0, began + INTERVAL_MS - now()));
      }
      return out;
    };
    const heap = async () => (await within(settledSample(() => cp.sample()), STEP_TIMEOUT_MS, 'sampling memory')).heap;

    await phase(WARMUP);
    const heapA0 = await heap();
    const a1 = await phase(CHANGES / 2);
    const heapA1 = await heap();

    // The slow proxies: their own connections (so their stalled streams do not eat a measured connection's window), one sync, then no reads.
    slowFleet = await within(Fleet.launch(1), STEP_TIMEOUT_MS, 'launching the slow fleet');
    const s = slowFleet;
    const slowSpecs: ProxySpec[] = Array.from({ length: SLOW }, (_, i) => ({ index: i, id: `slow-${i}`, kind: 'envoy-sotw', group: 'g0', slow: true }));
    s.start(slowSpecs, { target: cp.xds, start: now() + 100, connectRate: 0, streamsPerConnection: 1, ackDelayMs: 0, criterion: 'version' });
    const deadline = now() + 120_000;
    for (;;) {
      const st = await within(s.state(), STEP_TIMEOUT_MS, 'slow fleet state');
      if (st.proxies.filter((p) => p.synced).length === SLOW) break;
      assert.ok(now() < deadline, `slow proxies synced: ${st.proxies.filter((p) => p.synced).length}/${SLOW}`);
      await sleep(200);
    }
    const heapB0 = await heap();
    const b = await phase(CHANGES);
    const heapB1 = await heap();
    const slowState = await within(s.state(), STEP_TIMEOUT_MS, 'slow fleet state');
    await s.stop();
    slowFleet = undefined;
    // Their connections close with the worker; let the server tear the streams down before the second half of A is timed.
    await sleep(2000);
    const a2 = await phase(CHANGES / 2);
    const heapA2 = await heap();
    const a = { perChange: [...a1.perChange, ...a2.perChange], perProxy: [...a1.perProxy, ...a2.perProxy] };
    const calls = await load.stop();
    const nacks = await nacksAt(cp.api);

    // The criterion's p99 is over every (proxy, change) push: thousands of samples, where a p99 over changes is the single slowest change.
    const pa = percentiles(a.perProxy);
    const pb = percentiles(b.perProxy);
    const pa1 = percentiles(a1.perProxy);
    const pa2 = percentiles(a2.perProxy);
    const ca = percentiles(a.perChange);
    const cb = percentiles(b.perChange);
    const p99Ratio = pb.p99 / pa.p99;
    const growthA = heapA1 - heapA0;
    const growthB = heapB1 - heapB0;
    const mib = (x: number) => Math.round((x / 2 ** 20) * 10) / 10;
    reportChaos({
      scenario: 'Slow proxies',
      criterion: "Per-stream memory stays bounded; the others' push p99 is unchanged within ±10 %.",
      figures: {
        proxies: PROXIES,
        slowProxies: SLOW,
        catalogue: `${SERVICES} services x ${ENDPOINTS} endpoints`,
        changesPerPhase: CHANGES,
        debounceQuietMs: new AppConfig().XDS_DEBOUNCE_QUIET_MS,
        pushesPerPhase: pa.count,
        pushP50WithoutMs: Math.round(pa.p50),
        pushP99WithoutMs: Math.round(pa.p99),
        pushP99BeforeMs: Math.round(pa1.p99),
        pushP99AfterMs: Math.round(pa2.p99),
        pushP50WithMs: Math.round(pb.p50),
        pushP99WithMs: Math.round(pb.p99),
        p99ChangePercent: Math.round((p99Ratio - 1) * 1000) / 10,
        allAckedP99WithoutMs: Math.round(ca.p99),
        allAckedP99WithMs: Math.round(cb.p99),
        bytesPerProxyPhaseB: Math.round(b.bytesPerProxy),
        heapGrowthFirstHalfWithoutMiB: mib(growthA),
        heapGrowthWithMiB: mib(growthB),
        heapGrowthLimitMiB: mib(HEAP_GROWTH_LIMIT),
        heapAfterMiB: mib(heapB1),
        heapGrowthAfterTheyLeftMiB: mib(heapA2 - heapB1),
        slowConnectedAtEnd: slowState.slowConnected,
        steadyCalls: calls.length,
        failedCalls: calls.filter((o) => !o.server).length,
        nacks,
        form: CHAOS_FULL ? 'full' : 'short',
      },
    });
    // Asserted after the report, so a failing run still prints what it measured.
    assert.equal(slowState.slowConnected, SLOW, 'the slow proxies were still connected at the end (not cut off to save memory)');
    assert.ok(growthB <= HEAP_GROWTH_LIMIT, `heap grew ${(growthB / 2 ** 20).toFixed(1)} MiB over phase B with ${SLOW} unread streams (limit ${(HEAP_GROWTH_LIMIT / 2 ** 20).toFixed(1)} MiB; the first half of phase A ${(growthA / 2 ** 20).toFixed(1)} MiB)`);
    assert.equal(calls.filter((o) => !o.server).length, 0, `steady calls failed: ${JSON.stringify(failures(calls))}`);
    assert.ok(calls.length > 20, `steady calls ran throughout (${calls.length})`);
    assert.equal(nacks, 0, 'no NACKs');
    // Only the full form has enough changes per phase for a p99 that is not one outlier.
    const reference = Math.max(pa1.p99, pa2.p99);
    if (CHAOS_FULL) assert.ok(pb.p99 <= P99_FACTOR * reference, `push p99 ${pb.p99.toFixed(0)} ms with slow proxies, ${pa1.p99.toFixed(0)} and ${pa2.p99.toFixed(0)} ms without (before and after)`);
  });
});
