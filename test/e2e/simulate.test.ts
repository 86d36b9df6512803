import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import protobuf from 'protobufjs';
import { PACKAGE_ROOT } from '../../src/common/paths.js';
import type { EncodedResource } from '../../src/xds/cache/cache.js';
import { TYPE } from '../../src/translate/envoy-types.js';
import { decodeDeltaResponse, decodeResponse } from '../../tools/xds-wire.js';
import { encodeDeltaResponse, encodeResponse } from '../../src/xds/server/wire.js';
import { readDeltaEnvelope, readSotwEnvelope } from '../../tools/simulate/envelope.js';
import { type ControlPlane, mixCounts, OptionError, type ProxyState, runSimulation, spawnControlPlane, validateOptions } from '../../tools/simulate/index.js';
import { median } from '../../tools/simulate/stats.js';

/** Small enough for a shared 2-core machine; every kind of client and every kind of change. */
const SMALL = { proxies: 20, services: 20, endpoints: 3, workers: 2, progress: false, timeoutS: 60 } as const;
const SHORT_TYPE = { cds: 'CDS', eds: 'EDS', lds: 'LDS', rds: 'RDS' } as const;

function cli(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(PACKAGE_ROOT, 'build/tools/simulate/cli.js'), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b) => (stderr += b));
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

describe('simulator options', () => {
  for (const [args, option] of [
    [['--proxies', '0'], '--proxies'],
    [['--proxies', 'ten'], '--proxies'],
    [['--workers', '-1'], '--workers'],
    [['--mix', 'envoy-sotw=50,istio=50'], '--mix'],
    [['--script', 'health,reboot'], '--script'],
    [['--protocol', 'http'], '--protocol'],
    [['--protocol', 'delta', '--mix', 'grpc=1'], '--protocol'],
    [['--api', 'http://127.0.0.1:1'], '--xds'],
    [['--frobnicate'], '--frobnicate'],
    [['--services'], '--services'],
  ] as const) {
    it(`exits 2 naming ${option} for ${args.join(' ')}`, async () => {
      const r = await cli([...args]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, new RegExp(option.replace(/-/g, '\\-')));
    });
  }

  it('validates programmatic options the same way', () => {
    assert.throws(() => validateOptions({ proxies: 0 }), (e) => e instanceof OptionError && e.option === 'proxies');
    assert.throws(() => validateOptions({ mix: { grpc: 0 } }), (e) => e instanceof OptionError && e.option === 'mix');
    assert.deepEqual(mixCounts({ 'envoy-sotw': 80, 'envoy-delta': 10, grpc: 10 }, 7), { 'envoy-sotw': 5, 'envoy-delta': 1, grpc: 1 });
  });
});

describe('simulator envelope readers', () => {
  // google.protobuf.Any{type_url=1, value=2}
  const any = (value: string) => protobuf.Writer.create().uint32(10).string(TYPE.endpoint).uint32(18).bytes(Buffer.from(value)).finish();
  const res = (name: string, value: string): EncodedResource => ({ name, hash: `h-${name}`, any: any(value), json: {}, owner: { kind: 'Service', name }, violations: [] });
  it('read what wire.ts encodes and decodes', () => {
    const list = [res('a', 'xx'), res('b', 'yyy')];
    const sotw = encodeResponse('v1', list, TYPE.endpoint, 'n1');
    const full = decodeResponse(sotw);
    assert.deepEqual(readSotwEnvelope(sotw), { version: full.version_info, typeUrl: full.type_url, nonce: full.nonce, count: full.resources.length });
    const delta = encodeDeltaResponse('sv', list, ['gone'], TYPE.cluster, 'n2');
    const d = decodeDeltaResponse(delta);
    assert.deepEqual(readDeltaEnvelope(delta), {
      systemVersion: d.system_version_info,
      typeUrl: d.type_url,
      nonce: d.nonce,
      resources: d.resources.map((r) => ({ name: r.name, version: r.version })),
      removed: d.removed_resources,
    });
  });
});

describe('simulator against a spawned control plane', () => {
  let cp: ControlPlane;
  before(async () => {
    cp = await spawnControlPlane({ debounceMs: 10 });
  });
  after(async () => {
    await cp?.stop();
  });

  it('keeps the same ACK accounting as the server (GET /api/v1/proxies), for every client kind and change kind', async () => {
    let compared = 0;
    const result = await runSimulation(
      {
        ...SMALL,
        api: cp.api,
        xds: cp.xds,
        mix: { 'envoy-sotw': 50, 'envoy-delta': 25, grpc: 25 },
        streamsPerConnection: 3,
        changes: 3,
        intervalMs: 200,
        script: ['health', 'weight', 'service'],
        floor: false,
      },
      {
        async afterChanges(ctx) {
          const sim = await ctx.proxyState();
          assert.equal(sim.length, SMALL.proxies);
          // The server records an ACK when it reads it: give the last ones a moment.
          let mismatch = '';
          for (let attempt = 0; attempt < 50; attempt++) {
            const body = (await (await fetch(`${ctx.api}/api/v1/proxies`)).json()) as { items: { id: string; types: Record<string, { lastAckedVersion?: string }> }[] };
            const server = new Map(body.items.map((i) => [i.id, i.types]));
            mismatch = '';
            for (const p of sim) {
              const types = server.get(p.id);
              if (!types) mismatch ||= `${p.id} is not connected on the server`;
              for (const [k, v] of Object.entries(p.acked)) {
                const s = types?.[SHORT_TYPE[k as keyof typeof SHORT_TYPE]]?.lastAckedVersion;
                if (s !== v) mismatch ||= `${p.id} ${k}: simulator ${v}, server ${s}`;
              }
              if (Object.keys(p.acked).length !== 4) mismatch ||= `${p.id} has ACKed only ${Object.keys(p.acked).join(',')}`;
            }
            if (!mismatch) break;
            await new Promise((r) => setTimeout(r, 100));
          }
          assert.equal(mismatch, '');
          compared = sim.length;
        },
      },
    );
    assert.equal(result.ok, true, result.error);
    assert.equal(compared, SMALL.proxies);
    const run = result.runs[0];
    assert.deepEqual(run.fleet.kinds, { 'envoy-sotw': 10, 'envoy-delta': 5, grpc: 5 });
    assert.deepEqual(
      run.changes.map((c) => [c.kind, c.converged === c.expected, c.unexpected]),
      [
        ['health', true, 0],
        ['weight', true, 0],
        ['service', true, 0],
      ],
    );
    // A new service reaches no grpc-like proxy: each watches the host of an existing one.
    assert.equal(run.changes[2].excluded, 5);
    assert.ok(run.fleet.decodeCache.decoded < run.fleet.decodeCache.responses);
  });
});

describe('simulator timing', () => {
  it('an injected client ACK delay shows up in every change’s convergence', async () => {
    const D = 300;
    // A 50 ms debounce keeps the push behind the write's HTTP response, so t0 comes first.
    const common = { ...SMALL, changes: 4, intervalMs: D + 400, script: ['health', 'weight'] as ('health' | 'weight')[], floor: false, debounceMs: 50 };
    const base = await runSimulation({ ...common, ackDelayMs: 0 });
    const delayed = await runSimulation({ ...common, ackDelayMs: D });
    assert.equal(base.ok, true, base.error);
    assert.equal(delayed.ok, true, delayed.error);
    const b = base.runs[0].changes.map((c) => c.convergenceMs);
    const d = delayed.runs[0].changes.map((c) => c.convergenceMs);
    for (const x of d) assert.ok(x >= D, `convergence ${x} ms < ACK delay ${D} ms (${d.join(', ')})`);
    const grew = median(d) - median(b);
    assert.ok(grew >= D / 2 && grew < D + 1500, `median grew by ${grew} ms (without ${b.join(', ')}; with ${d.join(', ')})`);
  });
});

describe('simulator floor', () => {
  it('replays the captured bytes from a bare grpc-js server and measures it', async () => {
    const result = await runSimulation({ ...SMALL, proxies: 30, changes: 2, intervalMs: 200, script: ['health'], floor: true, proxyState: true });
    assert.equal(result.ok, true, result.error);
    const run = result.runs[0];
    const f = run.floor!;
    assert.equal(f.proxies, 30);
    assert.equal(f.pushes.length, 2);
    assert.ok(f.fanOutMs.p50 > 0, `floor fan-out ${f.fanOutMs.p50}`);
    assert.ok(Number.isFinite(f.memory.rssPerStream) && f.memory.idleRss > 0 && f.memory.syncedRss > 0);
    assert.ok(Number.isFinite(f.ratios.fanOut) && f.ratios.fanOut > 0);
    // What the floor proxies decoded is what Switchyard sent: after the initial replay and two
    // pushes (down and up again) they hold the EDS version the Switchyard proxies held.
    const switchyardEds = new Set((run.proxyState as ProxyState[]).map((p) => p.acked.eds));
    assert.equal(switchyardEds.size, 1);
    assert.deepEqual(f.edsVersions, [...switchyardEds]);
    assert.equal(f.captured.edsVersion, [...switchyardEds][0]);
    assert.notEqual(f.captured.pushVersions[0], f.captured.edsVersion);
    assert.equal(f.captured.pushVersions[1], f.captured.edsVersion);
    assert.ok(f.proxyState!.every((p) => p.synced && p.held.eds === run.proxyState![0].held.eds));
  });
});
