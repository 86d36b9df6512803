import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Catalogue } from '../../tools/simulate/catalogue.js';
import { Fleet } from '../../tools/simulate/fleet.js';
import type { ProxySpec, TypeKey } from '../../tools/simulate/messages.js';
import { now, sleep } from '../../tools/simulate/stats.js';
import { CHAOS_FULL, chaosScale, reportChaos } from '../support/chaos.js';
import { type EchoXds, failures, metricAt, nacksAt, sampleRss, startEchoXds, steadyCalls } from '../support/chaos-fleet.js';
import { ControlPlaneProcess } from '../support/control-plane.js';

/**
 * Issue 16: "Reconnect storm: 5,000 streams at once, with admission control
 * on". The streams come from the simulator's worker processes (cheap ADS
 * clients that subscribe and ACK like Envoy, SotW and Delta, and reconnect
 * with jittered backoff when refused), all started at the same instant
 * against a control plane process with a heap cap, admission control and an
 * RSS budget read from /proc.
 */
const STREAMS = chaosScale(5000, 500);
const SERVICES = chaosScale(200, 50);
const ENDPOINTS = 5;
const WORKERS = chaosScale(3, 2);
const RATE = chaosScale(500, 50);
const BURST = chaosScale(250, 50);
/** V8 old-space cap of the control plane (NODE_OPTIONS=--max-old-space-size). */
const HEAP_CAP_MIB = chaosScale(768, 384);
/**
 * The RSS budget: the heap cap plus room for what is outside the V8 heap: the
 * embedded PGlite's WebAssembly memory (about 300 MiB here before any stream),
 * code, and HTTP/2 session buffers.
 */
const RSS_BUDGET_MIB = HEAP_CAP_MIB + 384;

describe('chaos: reconnect storm', { timeout: chaosScale(900_000, 300_000) }, () => {
  let cp: ControlPlaneProcess;
  let echo: EchoXds;
  let fleet: Fleet | undefined;

  before(async () => {
    cp = await ControlPlaneProcess.create({
      DATA_DIR: 'memory://',
      LOG_LEVEL: 'fatal',
      XDS_DEBOUNCE_QUIET_MS: '20',
      XDS_MAX_NEW_STREAMS_PER_SECOND: String(RATE),
      XDS_NEW_STREAM_BURST: String(BURST),
      NODE_OPTIONS: `--max-old-space-size=${HEAP_CAP_MIB}`,
    });
    await cp.start(120_000);
    await new Catalogue(cp.base, { services: SERVICES, endpoints: ENDPOINTS, groups: 1 }).seed();
    echo = await startEchoXds(cp.base, cp.xdsPort, 'chaos-storm');
  });

  after(async () => {
    await fleet?.stop();
    await echo?.stop();
    await cp?.kill('SIGKILL');
  });

  it(`${STREAMS} streams at once: no OOM, RSS within budget, everyone converges, steady calls unharmed`, async () => {
    const catalogue = new Catalogue(cp.base, { services: SERVICES, endpoints: ENDPOINTS, groups: 1 });
    const specs: ProxySpec[] = Array.from({ length: STREAMS }, (_, i) => ({ index: i, id: `storm-${i}`, kind: i % 4 === 3 ? 'envoy-delta' : 'envoy-sotw', group: 'g0' }));
    fleet = await Fleet.launch(WORKERS);
    const f = fleet;
    const refused0 = await metricAt(cp.base, 'switchyard_xds_streams_refused_total');
    const load = steadyCalls(echo.client);
    const rss = sampleRss(cp.pid!, 50);
    const start = now() + 300;
    // connectRate 0: every stream is due at `start`, at once.
    f.start(specs, { target: `127.0.0.1:${cp.xdsPort}`, start, connectRate: 0, streamsPerConnection: 50, ackDelayMs: 0, criterion: 'version' });
    const synced = (await f.waitSynced(chaosScale(600_000, 180_000))).flatMap((m) => m.proxies);
    const allSyncedMs = Math.max(...synced.map((p) => p.syncedAt)) - start;
    assert.equal(synced.length, STREAMS, 'every stream has the full state');

    // The latest version: one more change, which every stream must ACK.
    const plan = catalogue.plan(0, 'health');
    await f.arm(0, plan.expect);
    const t0 = now();
    await plan.write();
    const { report, complete } = await f.waitConverged(0, 120_000);
    assert.ok(complete, `${report.expected - report.converged} of ${report.expected} did not ACK the change (e.g. ${report.missing.join(', ')})`);
    const changeMs = Math.max(...report.times) - t0;
    await sleep(700); // the workers' next progress report carries their final retry counts
    const memory = rss.stop();
    const calls = await load.stop();
    const state = await f.state();
    const retries = f.totals().retries;
    const refused = (await metricAt(cp.base, 'switchyard_xds_streams_refused_total')) - refused0;

    assert.ok(cp.alive, 'the control plane survived (no OOM)');
    assert.equal(state.proxies.filter((p) => p.synced).length, STREAMS);
    // Every stream holds the same, latest, ACKed version of each type as the others of its protocol.
    for (const kind of ['envoy-sotw', 'envoy-delta'] as const) {
      const ps = state.proxies.filter((p) => p.kind === kind);
      for (const t of ['cds', 'eds', 'lds', 'rds'] as TypeKey[]) {
        const versions = new Set(ps.map((p) => p.acked[t]));
        assert.equal(versions.size, 1, `${kind} ${t}: ${versions.size} different ACKed versions`);
      }
    }
    assert.ok(refused > 0, `admission control refused part of the storm (it was on): retries ${JSON.stringify(retries)}`);
    assert.ok(memory.peakRss <= RSS_BUDGET_MIB * 2 ** 20, `peak RSS ${(memory.peakRss / 2 ** 20).toFixed(0)} MiB over the ${RSS_BUDGET_MIB} MiB budget`);
    assert.equal(calls.filter((o) => !o.server).length, 0, `steady calls failed: ${JSON.stringify(failures(calls))}`);
    assert.ok(calls.length > 20, `steady calls ran throughout (${calls.length})`);
    assert.equal(await nacksAt(cp.base), 0, 'no NACKs');
    const mib = (b: number) => Math.round(b / 2 ** 20);
    reportChaos({
      scenario: 'Reconnect storm',
      criterion: 'No OOM, the RSS cap is respected, and everyone converges.',
      figures: {
        streams: STREAMS,
        protocols: 'SotW 3/4, Delta 1/4',
        workers: WORKERS,
        catalogue: `${SERVICES} services x ${ENDPOINTS} endpoints`,
        admission: `${RATE}/s, burst ${BURST}`,
        heapCapMiB: HEAP_CAP_MIB,
        rssBudgetMiB: RSS_BUDGET_MIB,
        rssBeforeMiB: mib(memory.first),
        peakRssMiB: mib(memory.peakRss),
        stormRssGrowthMiB: mib(memory.peakRss - memory.first),
        vmHwmMiB: mib(memory.hwm),
        rssAfterMiB: mib(memory.last),
        allConvergedMs: Math.round(allSyncedMs),
        refusedStreams: refused,
        streamRetries: Object.values(retries).reduce((a, b) => a + b, 0),
        retriesByCode: JSON.stringify(retries),
        latestChangeAllAckedMs: Math.round(changeMs),
        steadyCalls: calls.length,
        failedCalls: 0,
        nacks: 0,
        oom: false,
        form: CHAOS_FULL ? 'full' : 'short',
      },
    });
  });
});
