import { constants } from 'node:fs';
import { access, statfs } from 'node:fs/promises';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { MIGRATIONS } from '../../migrations/index.js';
import { EmbeddedPostgres } from './embedded-postgres.js';
import { timedClient } from './timed-client.js';

/** How to reach the database: a server URL, or the embedded PGlite under `dataDir`. */
export interface DatabaseOptions {
  url?: string;
  /** TypeORM entity classes of the stores that use this database (passed in: the database knows no store). */
  entities: DataSourceOptions['entities'];
  dataDir: string;
  poolSize: number;
  runMigrations: boolean;
  /** A query on a database server whose socket is silent this long fails as unavailable (0 = wait forever). */
  readTimeoutMs?: number;
}

/** Below this much free space the embedded data directory counts as full: PostgreSQL extends files 8 KiB at a time and a WAL segment is 16 MiB. */
export const STORAGE_LOW_BYTES = 1024 * 1024;

/** The embedded database's data directory: can it take writes? */
export interface StorageState {
  dataDir: string;
  freeBytes: number;
  writable: boolean;
  /** Why writes will fail, when they will. */
  problem?: 'full' | 'read-only';
}

/**
 * Owns the TypeORM DataSource and, in embedded mode, the PGlite behind it.
 * Both transports and every store use this one pool.
 */
export class Database {
  private constructor(
    readonly dataSource: DataSource,
    private readonly embedded: EmbeddedPostgres | undefined,
  ) {}

  /** True when running on the in-process PGlite. */
  get isEmbedded(): boolean {
    return this.embedded !== undefined;
  }

  static async open(opts: DatabaseOptions): Promise<Database> {
    const embedded = opts.url ? undefined : await EmbeddedPostgres.start(opts.dataDir);
    try {
      // The embedded database is in-process: it cannot be partitioned away, so it gets no read timeout.
      const dataSource = createDataSource(opts.url ?? embedded!.url, embedded ? 1 : opts.poolSize, opts.entities, embedded ? 0 : opts.readTimeoutMs);
      await dataSource.initialize();
      const db = new Database(dataSource, embedded);
      if (opts.runMigrations) await dataSource.runMigrations({ transaction: 'each' });
      return db;
    } catch (e) {
      await embedded?.stop();
      throw e;
    }
  }

  /** Resolves when the database answers a trivial query within `timeoutMs`. */
  async ping(timeoutMs = 2000): Promise<void> {
    await withTimeout(this.dataSource.query('SELECT 1'), timeoutMs, 'database did not answer');
  }

  /**
   * Free space and writability of the embedded data directory (undefined with a
   * database server or in memory). A full or read-only disk leaves reads and
   * xDS serving but fails every write, so readiness reports it.
   */
  async storage(): Promise<StorageState | undefined> {
    const dataDir = this.embedded?.dataDir;
    if (!dataDir) return undefined;
    const fs = await statfs(dataDir);
    const freeBytes = fs.bavail * fs.bsize;
    // access(2) answers EROFS on a read-only mount even for root (who passes every permission check).
    const writable = await access(dataDir, constants.W_OK).then(
      () => true,
      () => false,
    );
    const problem = !writable ? 'read-only' : freeBytes < STORAGE_LOW_BYTES ? 'full' : undefined;
    return { dataDir, freeBytes, writable, ...(problem ? { problem } : {}) };
  }

  /** Names of migrations not yet applied. */
  async pendingMigrations(timeoutMs = 2000): Promise<string[]> {
    const rows: { name: string }[] = await withTimeout(
      this.dataSource.query(`SELECT "name" FROM "migrations"`).catch((e: { code?: string }) => {
        if (e.code === '42P01') return []; // no migrations table yet
        throw e;
      }),
      timeoutMs,
      'database did not answer',
    );
    const done = new Set(rows.map((r) => r.name));
    return MIGRATIONS.map((m) => new m().name ?? m.name).filter((n) => !done.has(n));
  }

  async close(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
    await this.embedded?.stop();
  }
}

/** DataSource used by the app and by the migration CLI. */
export function createDataSource(url: string, poolSize: number, entities: DataSourceOptions['entities'], readTimeoutMs = 0): DataSource {
  return new DataSource({
    type: 'postgres',
    url,
    entities,
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    synchronize: false,
    logging: false,
    poolSize,
    extra: {
      connectionTimeoutMillis: 5000,
      idleTimeoutMillis: 30000,
      application_name: 'switchyard',
      // Keepalives find a peer that vanished while a connection sat idle; the read timeout, one that stopped answering mid-query.
      keepAlive: true,
      ...(readTimeoutMs > 0 ? { Client: timedClient(readTimeoutMs) } : {}),
    },
  });
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${message} within ${ms} ms`)), ms);
    }),
  ]);
}
