import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './control-plane.js';

/*
 * A PostgreSQL cluster of the test's own (initdb + pg_ctl on a free port in a
 * temporary directory), for the scenarios that stop PostgreSQL itself: the
 * shared server on 5432 is used by every other test and must never go down.
 */

/** The directory holding initdb and pg_ctl: `pg_config --bindir`, else the newest /usr/lib/postgresql/<n>/bin. */
function binDir(): string {
  const has = (d: string) => existsSync(join(d, 'initdb')) && existsSync(join(d, 'pg_ctl'));
  try {
    const d = execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim();
    if (has(d)) return d;
  } catch {
    // No pg_config on PATH: look where Debian-style packages install the server.
  }
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) if (has(join(root, v, 'bin'))) return join(root, v, 'bin');
  throw new Error('initdb and pg_ctl not found (pg_config --bindir, /usr/lib/postgresql/*/bin)');
}

/** initdb refuses to run as root: run the server binaries as the `postgres` OS user then. */
const asRoot = process.getuid?.() === 0;

function uidOf(user: string): { uid: number; gid: number } {
  const out = (flag: string) => Number(execFileSync('id', [flag, user], { encoding: 'utf8' }).trim());
  return { uid: out('-u'), gid: out('-g') };
}

/**
 * A PostgreSQL server the test owns: trust auth, listening on 127.0.0.1 at
 * a free port. `stop()` is `pg_ctl stop -m fast` (connections are cut, the
 * port refuses), `start()` brings it back on the same port and data.
 */
export class PgCluster {
  private constructor(
    private readonly bin: string,
    readonly dir: string,
    readonly port: number,
  ) {}

  /** initdb in a fresh temporary directory, then starts the server. */
  static async create(): Promise<PgCluster> {
    const bin = binDir();
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-pg-'));
    chmodSync(dir, 0o700);
    if (asRoot) {
      const { uid, gid } = uidOf('postgres');
      chownSync(dir, uid, gid);
    }
    const c = new PgCluster(bin, dir, await freePort());
    try {
      await c.run('initdb', ['-D', join(dir, 'data'), '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
      await c.start();
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    return c;
  }

  /** Runs a server binary without blocking the event loop: the test's clients keep running while PostgreSQL stops and starts. */
  private run(tool: string, args: string[]): Promise<void> {
    const cmd = join(this.bin, tool);
    const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
    return new Promise((resolve, reject) =>
      execFile(file, argv, { encoding: 'utf8' }, (err, stdout, stderr) => (err ? reject(new Error(`${tool} ${args.join(' ')} failed: ${stderr || stdout || err.message}`)) : resolve())),
    );
  }

  /** The connection URL of one database in this cluster. */
  url(database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  /** Starts the server and waits until it accepts connections (pg_ctl -w). */
  start(): Promise<void> {
    // Unix sockets go in the cluster's own directory: the default one may not be writable, and must not clash.
    const opts = `-p ${this.port} -c listen_addresses=127.0.0.1 -k ${this.dir} -c fsync=off -c max_connections=100`;
    return this.run('pg_ctl', ['start', '-w', '-t', '60', '-D', join(this.dir, 'data'), '-l', join(this.dir, 'log'), '-o', opts]);
  }

  /** `pg_ctl stop -m fast`: every connection is cut and the port refuses new ones. */
  stop(): Promise<void> {
    return this.run('pg_ctl', ['stop', '-w', '-t', '60', '-m', 'fast', '-D', join(this.dir, 'data')]);
  }

  /** Creates a database and returns its URL. */
  async createDatabase(name: string): Promise<string> {
    const c = new pg.Client({ connectionString: this.url() });
    await c.connect();
    try {
      await c.query(`CREATE DATABASE "${name}"`);
    } finally {
      await c.end();
    }
    return this.url(name);
  }

  /** Stops the server (if it runs) and removes its directory. */
  async destroy(): Promise<void> {
    await this.stop().catch(() => undefined); // already stopped
    rmSync(this.dir, { recursive: true, force: true });
  }
}
