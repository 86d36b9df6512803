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
    /** The data directory on disk; undefined in memory. */
    readonly dataDir?: string,
  ) {}

  /** Starts PGlite on `dataDir` (or in memory for `memory://`) and a socket server on a free port. */
  static async start(dataDir: string): Promise<EmbeddedPostgres> {
    let lockFile: string | undefined;
    let dir: string | undefined;
    let db: PGlite;
    if (dataDir === 'memory://') {
      db = await PGlite.create();
    } else {
      dir = resolve(dataDir);
      mkdirSync(dir, { recursive: true });
      lockFile = join(dir, 'switchyard.lock');
      takeLock(lockFile);
      try {
        db = await PGlite.create(join(dir, 'pgdata'));
        forgetFailedCreates(db);
      } catch (e) {
        rmSync(lockFile, { force: true });
        throw e;
      }
    }
    const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 1 });
    await server.start();
    const url = `postgres://postgres@${server.getServerConn()}/postgres?sslmode=disable`;
    return new EmbeddedPostgres(db, server, lockFile, url, dir);
  }

  async stop(): Promise<void> {
    await this.server.stop();
    await this.db.close();
    if (this.lockFile) rmSync(this.lockFile, { force: true });
  }
}

/** The parts of Emscripten's FS (inside PGlite) that forgetFailedCreates needs. */
interface EmscriptenFs {
  filesystems?: { NODEFS?: { node_ops?: { mknod?: (...args: unknown[]) => unknown } } };
  lookupNode(parent: unknown, name: string): unknown;
  hashRemoveNode(node: unknown): void;
}

/**
 * Emscripten's NODEFS (PGlite's file layer on Node) registers a new file's
 * node before it creates the file on disk, and keeps the node when that fails
 * (a read-only or full data directory). PostgreSQL then gets "File exists" for
 * a file that is not there, on every retry and after the disk is writable
 * again, until the process restarts. Forgetting the node on failure keeps the
 * real cause in the error and lets writes resume once the disk is fixed.
 */
function forgetFailedCreates(db: PGlite): void {
  const fs = (db as unknown as { mod?: { FS?: EmscriptenFs } }).mod?.FS;
  const ops = fs?.filesystems?.NODEFS?.node_ops;
  const mknod = ops?.mknod;
  if (!fs || !ops || !mknod) return; // another PGlite build: nothing to mend
  ops.mknod = function (this: unknown, ...args: unknown[]) {
    try {
      return mknod.apply(this, args);
    } catch (e) {
      try {
        fs.hashRemoveNode(fs.lookupNode(args[0], args[1] as string));
      } catch {
        /* not registered after all */
      }
      throw e;
    }
  };
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
