import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A throwaway etcd server from the `etcd` binary, on free ports with a temp data dir. */
export class TestEtcd {
  private proc?: ChildProcess;
  private log = '';
  private constructor(
    readonly dataDir: string,
    readonly clientPort: number,
    readonly peerPort: number,
  ) {}

  get endpoint(): string {
    return `http://127.0.0.1:${this.clientPort}`;
  }

  static available(): boolean {
    return spawnSync('etcd', ['--version']).status === 0;
  }

  static async start(): Promise<TestEtcd> {
    if (!TestEtcd.available()) throw new Error('the etcd binary is not installed (apt-get install etcd-server); .ci/run installs it');
    const e = new TestEtcd(mkdtempSync(join(tmpdir(), 'switchyard-etcd-')), await freePort(), await freePort());
    await e.resume();
    return e;
  }

  /** Starts (again) on the same data directory. */
  async resume(): Promise<void> {
    const url = `http://127.0.0.1:${this.clientPort}`;
    const peer = `http://127.0.0.1:${this.peerPort}`;
    this.proc = spawn(
      'etcd',
      [
        '--name', 'test',
        '--data-dir', this.dataDir,
        '--listen-client-urls', url,
        '--advertise-client-urls', url,
        '--listen-peer-urls', peer,
        '--initial-advertise-peer-urls', peer,
        '--initial-cluster', `test=${peer}`,
        '--log-level', 'error',
        '--logger', 'zap',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    this.proc.stderr!.on('data', (d) => (this.log += d));
    for (let i = 0; i < 100; i++) {
      try {
        const res = await fetch(`${url}/health`);
        if (res.ok) return;
      } catch {
        /* not yet */
      }
      if (this.proc.exitCode !== null) throw new Error(`etcd exited: ${this.log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`etcd did not become healthy: ${this.log}`);
  }

  /** Compacts the key history up to `revision` (etcd's v3 HTTP gateway). */
  async compact(revision: number): Promise<void> {
    const res = await fetch(`${this.endpoint}/v3/kv/compaction`, { method: 'POST', body: JSON.stringify({ revision: String(revision), physical: true }) });
    if (!res.ok) throw new Error(`compaction failed: ${res.status} ${await res.text()}`);
  }

  /** One unlabelled sample of the server's own /metrics, e.g. `etcd_mvcc_range_total` (reads served). */
  async metric(name: string): Promise<number> {
    const text = await (await fetch(`${this.endpoint}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(name + ' '));
    if (!line) throw new Error(`etcd has no metric ${name}`);
    return Number(line.slice(name.length + 1));
  }

  /** Stops the server (data kept), like an outage. */
  async pause(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGKILL');
    });
  }

  async stop(): Promise<void> {
    await this.pause();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
