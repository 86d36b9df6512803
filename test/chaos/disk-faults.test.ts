import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TYPE } from '../../src/translate/envoy-types.js';
import { AdsTestClient, envoyNode } from '../support/ads-client.js';
import { CHAOS_FULL, chaosScale, reportChaos } from '../support/chaos.js';
import { type EchoXds, failures, nacksAt, startEchoXds, steadyCalls } from '../support/chaos-fleet.js';
import { ControlPlaneProcess } from '../support/control-plane.js';
import { eventually } from '../support/xds-client.js';

/**
 * Issue 16: "Disk full or a read-only data dir on the embedded database".
 * No DATABASE_URL, so the control plane runs PGlite in DATA_DIR, on a tmpfs
 * of its own (a real filesystem with a real size limit). Disk full: a ballast
 * file fills the tmpfs. Read-only: a read-only bind mount over the data
 * directory (root ignores file permissions, not a read-only mount).
 */
const FAULT_MS = chaosScale(60_000, 3_000);
const BATCH = 300;

const sh = (cmd: string, ...args: string[]) => execFileSync(cmd, args, { stdio: 'pipe' });

/** Services of one apply: large enough that the tables must grow (small rows can fit pages already there). */
const batch = (prefix: string) => Array.from({ length: BATCH }, (_, i) => ({ kind: 'Service', name: `${prefix}-${i}`, labels: { pad: 'x'.repeat(60) }, spec: { protocol: 'grpc', port: 8080 } }));

/** Writes zeros until the filesystem is full. */
function fill(file: string): number {
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(1 << 20);
  let n = 0;
  try {
    for (;;) n += writeSync(fd, chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    closeSync(fd);
  }
  return n;
}

/** An Envoy-like SotW stream holding every cluster: counts what it is sent, to prove nothing is removed. */
class ClusterWatch {
  readonly c: AdsTestClient;
  counts: number[] = [];
  private open = true;
  constructor(xdsPort: number) {
    this.c = new AdsTestClient(xdsPort);
    this.c.send({ node: envoyNode('chaos-disk-watch'), type_url: TYPE.cluster });
    void this.loop();
  }
  private async loop(): Promise<void> {
    while (this.open) {
      const r = await this.c.next(1000).catch(() => undefined);
      if (!r) continue;
      this.counts.push(r.resources.length);
      this.c.send({ type_url: TYPE.cluster, version_info: r.version_info, response_nonce: r.nonce });
    }
  }
  close(): void {
    this.open = false;
    this.c.close();
  }
}

describe('chaos: disk full or a read-only data dir on the embedded database', { timeout: chaosScale(600_000, 180_000) }, () => {
  let mnt: string;
  let dataDir: string;
  let cp: ControlPlaneProcess;
  let echo: EchoXds;
  let watch: ClusterWatch;
  let mounted = false;

  before(async () => {
    mnt = mkdtempSync(join(tmpdir(), 'switchyard-chaos-disk-'));
    // PGlite's fresh cluster takes about 40 MiB (a 16 MiB WAL segment included).
    sh('mount', '-t', 'tmpfs', '-o', 'size=96m', 'tmpfs', mnt);
    mounted = true;
    dataDir = join(mnt, 'data');
    mkdirSync(dataDir);
    cp = await ControlPlaneProcess.create({ DATA_DIR: dataDir, XDS_DEBOUNCE_QUIET_MS: '20', LOG_LEVEL: 'fatal', SHUTDOWN_TIMEOUT_MS: '3000' });
    await cp.start(120_000);
    echo = await startEchoXds(cp.base, cp.xdsPort, 'chaos-disk');
    watch = new ClusterWatch(cp.xdsPort);
    await eventually(async () => assert.ok(watch.counts.at(-1) === 2, 'the watch holds echo/v1 and echo/v2'));
  });

  after(async () => {
    watch?.close();
    await echo?.stop();
    await cp?.kill('SIGKILL');
    if (mounted) {
      for (let i = 0; i < 3; i++) {
        try {
          sh('umount', '-R', mnt);
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 500));
        }
      }
    }
    rmSync(mnt, { recursive: true, force: true });
  });

  /**
   * Makes writes during the fault for FAULT_MS (and until one has failed):
   * each either fails with `status` naming `cause`, or (a read-only bind mount
   * only stops new opens: files PostgreSQL holds open stay writable) is whole.
   */
  async function faultPhase(label: string, status: number, cause: RegExp) {
    const load = steadyCalls(echo.client);
    const before = watch.counts.length;
    const end = Date.now() + FAULT_MS;
    const seen: Record<string, number> = {};
    let writes = 0;
    let retryAfter: string | null = null;
    let message = '';
    const failed: string[] = [];
    const whole: string[] = [];
    do {
      const prefix = `${label}-${writes}`;
      const r = await cp.http('POST', '/api/v1/apply', batch(prefix));
      writes++;
      seen[r.status] = (seen[r.status] ?? 0) + 1;
      if (r.status === 200) whole.push(prefix);
      else {
        assert.equal(r.status, status, `write ${writes} during the fault: ${r.text.slice(0, 400)}`);
        assert.match(r.body.message, cause);
        failed.push(prefix);
        message = r.body.message;
        retryAfter = r.headers.get('retry-after');
      }
      assert.ok(cp.alive, 'the control plane is alive');
      assert.equal((await cp.http('GET', '/health')).status, 200);
      await new Promise((r) => setTimeout(r, 200));
    } while ((Date.now() < end || !failed.length) && writes < 500);
    assert.ok(failed.length > 0, `no write failed in ${writes}`);
    const ready = await cp.http('GET', '/ready');
    const calls = await load.stop();
    assert.equal(calls.filter((o) => !o.server).length, 0, `steady calls failed: ${JSON.stringify(failures(calls))}`);
    assert.ok(calls.length > 10, `steady calls ran throughout (${calls.length})`);
    const pushed = watch.counts.slice(before);
    assert.ok(pushed.every((n) => n >= 2), `no cluster removed from the watching proxy: ${JSON.stringify(pushed)}`);
    return { writes, seen, message, retryAfter, ready, calls, failed, whole };
  }

  /** After the fault: a write succeeds, and nothing of the failed ones is in the registry. */
  async function recovered(label: string, f: { failed: string[]; whole: string[] }) {
    const t0 = Date.now();
    await eventually(async () => {
      const r = await cp.http('POST', '/api/v1/apply', batch(`${label}-after`));
      assert.equal(r.status, 200, r.text.slice(0, 300));
    }, 30_000, 250);
    const recoverMs = Date.now() - t0;
    const names: string[] = [];
    for (let cursor: string | undefined = ''; cursor !== undefined; ) {
      const r = await cp.http('GET', `/api/v1/services?limit=500${cursor ? `&pageToken=${encodeURIComponent(cursor)}` : ''}`);
      assert.equal(r.status, 200, r.text);
      names.push(...r.body.items.map((s: { name: string }) => s.name));
      cursor = r.body.nextPageToken ?? undefined;
    }
    const count = (prefix: string) => names.filter((n) => n.startsWith(`${prefix}-`)).length;
    for (const p of f.failed) assert.equal(count(p), 0, `nothing of the failed write ${p} is in the registry`);
    for (const p of [...f.whole, `${label}-after`]) assert.equal(count(p), BATCH, `the write ${p} is whole`);
    return recoverMs;
  }

  it('read-only data dir: writes get 503 naming it, xDS keeps serving, writes succeed again once it is writable', async () => {
    sh('mount', '--bind', dataDir, dataDir);
    sh('mount', '-o', 'remount,bind,ro', dataDir);
    let f: Awaited<ReturnType<typeof faultPhase>>;
    try {
      f = await faultPhase('ro', 503, /read-only/i);
      assert.equal(f.ready.status, 200);
      assert.equal(f.ready.body.details.storage.problem, 'read-only', JSON.stringify(f.ready.body.details));
      assert.equal(f.retryAfter, '1', '503 with Retry-After');
    } finally {
      sh('umount', dataDir);
    }
    const recoverMs = await recovered('ro', f);
    assert.equal(await nacksAt(cp.base), 0, 'no NACKs');
    reportChaos({
      scenario: 'Read-only data dir on the embedded database',
      criterion: 'Writes fail with a clear 5xx naming the cause. The process does not crash, and xDS keeps serving.',
      figures: {
        method: 'read-only bind mount over DATA_DIR (mount --bind; mount -o remount,bind,ro)',
        faultMs: FAULT_MS,
        writesDuringFault: f.writes,
        writeStatus: JSON.stringify(f.seen),
        message: f.message.slice(0, 120),
        readyDuringFault: `${f.ready.status} storage ${f.ready.body.details.storage.status}`,
        steadyCalls: f.calls.length,
        failedCalls: 0,
        clustersRemoved: 0,
        processAlive: true,
        recoverMs,
        halfWritten: 0,
        nacks: 0,
        form: CHAOS_FULL ? 'full' : 'short',
      },
    });
  });
  it('disk full: writes get 507 naming ENOSPC, xDS keeps serving, writes succeed again once space is freed', async () => {
    const ballast = join(mnt, 'ballast');
    const filled = fill(ballast);
    const f = await faultPhase('full', 507, /no space left on device/i);
    assert.equal(f.ready.status, 200, 'reads and xDS still work: ready, degraded');
    assert.equal(f.ready.body.details.storage.status, 'degraded', JSON.stringify(f.ready.body.details));
    assert.equal(f.ready.body.details.storage.problem, 'full');
    unlinkSync(ballast);
    await eventually(async () => assert.equal((await cp.http('GET', '/ready')).body.details.storage.status, 'up'));
    const recoverMs = await recovered('full', f);
    assert.ok(cp.alive);
    assert.equal(await nacksAt(cp.base), 0, 'no NACKs');
    reportChaos({
      scenario: 'Disk full on the embedded database',
      criterion: 'Writes fail with a clear 5xx naming the cause. The process does not crash, and xDS keeps serving.',
      figures: {
        method: 'tmpfs DATA_DIR (96 MiB) filled with a ballast file',
        ballastMiB: Math.round(filled / 2 ** 20),
        faultMs: FAULT_MS,
        writesDuringFault: f.writes,
        writeStatus: JSON.stringify(f.seen),
        message: f.message.slice(0, 120),
        readyDuringFault: `${f.ready.status} storage ${f.ready.body.details.storage.status}`,
        steadyCalls: f.calls.length,
        failedCalls: 0,
        clustersRemoved: 0,
        processAlive: cp.alive,
        recoverMs,
        halfWritten: 0,
        nacks: 0,
      },
    });
  });

});
