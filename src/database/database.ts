import { DataSource, type DataSourceOptions } from 'typeorm';
import { MIGRATIONS } from '../../migrations/index.js';
import { EmbeddedPostgres } from './embedded-postgres.js';

/** How to reach the database: a server URL, or the embedded PGlite under `dataDir`. */
export interface DatabaseOptions {
  url?: string;
  /** TypeORM entity classes of the stores that use this database (passed in: the database knows no store). */
  entities: DataSourceOptions['entities'];
  dataDir: string;
  poolSize: number;
  runMigrations: boolean;
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
      const dataSource = createDataSource(opts.url ?? embedded!.url, embedded ? 1 : opts.poolSize, opts.entities);
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
export function createDataSource(url: string, poolSize: number, entities: DataSourceOptions['entities']): DataSource {
  return new DataSource({
    type: 'postgres',
    url,
    entities,
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    synchronize: false,
    logging: false,
    poolSize,
    extra: { connectionTimeoutMillis: 5000, idleTimeoutMillis: 30000, application_name: 'switchyard' },
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
