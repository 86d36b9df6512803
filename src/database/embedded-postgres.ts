import { mkdirSync, openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { EmbeddedWorkerData, EmbeddedWorkerMessage } from './embedded-postgres-worker.js';

/**
 * PGlite on a thread of its own (embedded-postgres-worker.ts), reachable over
 * the PostgreSQL wire protocol on loopback so the ordinary `pg` driver and the
 * same migrations work unchanged. PGlite is single-session: callers must use
 * exactly one connection.
 */
export class EmbeddedPostgres {
  private constructor(
    private readonly worker: Worker,
    private readonly lockFile: string | undefined,
    /** postgres:// URL of the socket server. */
    readonly url: string,
    /** The data directory on disk; undefined in memory. */
    readonly dataDir?: string,
  ) {}

  /** Starts PGlite on `dataDir` (or in memory for `memory://`) and a socket server on a free port. */
  static async start(dataDir: string): Promise<EmbeddedPostgres> {
    let lockFile: string | undefined;
    let dir: string | undefined;
    if (dataDir !== 'memory://') {
      dir = resolve(dataDir);
      mkdirSync(dir, { recursive: true });
      lockFile = join(dir, 'switchyard.lock');
      takeLock(lockFile);
    }
    const data: EmbeddedWorkerData = { pgdata: dir ? join(dir, 'pgdata') : 'memory://' };
    const worker = new Worker(new URL('./embedded-postgres-worker.js', import.meta.url), { workerData: data });
    try {
      const url = await new Promise<string>((ok, fail) => {
        worker.once('message', (m: EmbeddedWorkerMessage) => ('url' in m ? ok(m.url) : fail(new Error('error' in m ? m.error : 'embedded database stopped while starting'))));
        worker.once('error', fail);
        worker.once('exit', (code) => fail(new Error(`embedded database thread exited (${code}) while starting`)));
      });
      worker.removeAllListeners();
      // After the start, a dead thread shows as failed queries (503): say why once.
      worker.on('error', (e) => process.emitWarning(`embedded database thread failed: ${e.message}`));
      return new EmbeddedPostgres(worker, lockFile, url, dir);
    } catch (e) {
      await worker.terminate();
      if (lockFile) rmSync(lockFile, { force: true });
      throw e;
    }
  }

  /** Closes the socket server and the database (a checkpoint on disk), then ends the thread. */
  async stop(): Promise<void> {
    await new Promise<void>((done) => {
      const t = setTimeout(done, 10_000);
      const finish = () => (clearTimeout(t), done());
      this.worker.once('exit', finish);
      this.worker.on('message', (m: EmbeddedWorkerMessage) => 'stopped' in m && finish());
      this.worker.postMessage('stop');
    });
    await this.worker.terminate();
    if (this.lockFile) rmSync(this.lockFile, { force: true });
  }
}

// Two processes on one PGlite directory would corrupt it, so refuse the second.
function takeLock(file: string): void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number(readFileSync(file, 'utf8').trim());
      if (pid && pid !== process.pid && isAlive(pid)) {
        throw new Error(`data directory is in use by process ${pid} (${file}); stop it or set DATA_DIR elsewhere`);
      }
      rmSync(file, { force: true });
    }
  }
  throw new Error(`could not lock ${file}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
