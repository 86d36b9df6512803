import { mkdirSync, openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

/**
 * PGlite running in this process, reachable over the PostgreSQL wire protocol on
 * loopback so the ordinary `pg` driver and the same migrations work unchanged.
 * PGlite is single-session: callers must use exactly one connection.
 */
export class EmbeddedPostgres {
  private constructor(
    private readonly db: PGlite,
    private readonly server: PGLiteSocketServer,
    private readonly lockFile: string | undefined,
    /** postgres:// URL of the socket server. */
    readonly url: string,
  ) {}

  /** Starts PGlite on `dataDir` (or in memory for `memory://`) and a socket server on a free port. */
  static async start(dataDir: string): Promise<EmbeddedPostgres> {
    let lockFile: string | undefined;
    let db: PGlite;
    if (dataDir === 'memory://') {
      db = await PGlite.create();
    } else {
      const dir = resolve(dataDir);
      mkdirSync(dir, { recursive: true });
      lockFile = join(dir, 'switchyard.lock');
      takeLock(lockFile);
      try {
        db = await PGlite.create(join(dir, 'pgdata'));
      } catch (e) {
        rmSync(lockFile, { force: true });
        throw e;
      }
    }
    const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 1 });
    await server.start();
    const url = `postgres://postgres@${server.getServerConn()}/postgres?sslmode=disable`;
    return new EmbeddedPostgres(db, server, lockFile, url);
  }

  async stop(): Promise<void> {
    await this.server.stop();
    await this.db.close();
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
