import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** Server the tests create throwaway databases in (TEST_PG_URL, else DATABASE_URL, else local trust auth). */
export const ADMIN_URL = process.env.TEST_PG_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  name: string;
  url: string;
  /** Runs SQL as the admin (e.g. to cut connections). */
  admin(sql: string): Promise<void>;
  drop(): Promise<void>;
}

async function withAdmin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: ADMIN_URL });
  try {
    await c.connect();
  } catch (e) {
    throw new Error(`tests need PostgreSQL at ${ADMIN_URL} (set TEST_PG_URL): ${(e as Error).message}`);
  }
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Creates an empty, uniquely named database; drop() removes it and every connection to it. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `switchyard_test_${randomBytes(6).toString('hex')}`;
  await withAdmin((c) => c.query(`CREATE DATABASE "${name}"`));
  const u = new URL(ADMIN_URL);
  u.pathname = `/${name}`;
  return {
    name,
    url: u.toString(),
    admin: (sql) => withAdmin(async (c) => void (await c.query(sql))),
    drop: () =>
      withAdmin(async (c) => {
        await c.query(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS false`).catch(() => undefined);
        await c.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, [name]);
        await c.query(`DROP DATABASE IF EXISTS "${name}"`);
      }),
  };
}

/** Makes the database refuse connections and drops the current ones: "the database is down". */
export async function takeDown(db: TestDatabase): Promise<void> {
  await db.admin(`ALTER DATABASE "${db.name}" ALLOW_CONNECTIONS false`);
  await db.admin(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${db.name}'`);
}

export async function bringUp(db: TestDatabase): Promise<void> {
  await db.admin(`ALTER DATABASE "${db.name}" ALLOW_CONNECTIONS true`);
}
