import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createDataSource } from '../../src/database/database.js';
import { ENTITIES } from '../../src/registry/store/entities.js';
import { EmbeddedPostgres } from '../../src/database/embedded-postgres.js';
import { createTestDatabase } from '../support/postgres.js';

const tables = async (ds: ReturnType<typeof createDataSource>) =>
  ((await ds.query(`SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`)) as { tablename: string }[]).map((r) => r.tablename);

async function upDownUp(url: string): Promise<void> {
  const ds = createDataSource(url, 1, ENTITIES);
  await ds.initialize();
  try {
    assert.deepEqual(await tables(ds), [], 'starts empty');
    const applied = await ds.runMigrations({ transaction: 'each' });
    assert.ok(applied.length >= 1);
    assert.deepEqual(await tables(ds), ['audit_events', 'changes', 'migrations', 'registry_state', 'resources', 'tokens']);
    assert.equal((await ds.query(`SELECT "revision" FROM "registry_state"`))[0].revision, '0');
    assert.equal(await ds.showMigrations(), false, 'nothing pending');
    for (let i = 0; i < applied.length; i++) await ds.undoLastMigration({ transaction: 'each' });
    assert.deepEqual(await tables(ds), ['migrations'], 'down removes everything it made');
    assert.equal(await ds.showMigrations(), true);
    await ds.runMigrations({ transaction: 'each' });
    assert.deepEqual(await tables(ds), ['audit_events', 'changes', 'migrations', 'registry_state', 'resources', 'tokens'], 'and up again');
  } finally {
    await ds.destroy();
  }
}

describe('migrations up and down on an empty database', () => {
  it('PostgreSQL', async () => {
    const db = await createTestDatabase();
    try {
      await upDownUp(db.url);
    } finally {
      await db.drop();
    }
  });

  it('embedded PGlite', async () => {
    const pg = await EmbeddedPostgres.start('memory://');
    try {
      await upDownUp(pg.url);
    } finally {
      await pg.stop();
    }
  });
});
