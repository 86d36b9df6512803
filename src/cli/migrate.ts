import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../config/config.js';
import { PACKAGE_ROOT } from '../common/paths.js';
import { createDataSource } from '../database/database.js';
import { EmbeddedPostgres } from '../database/embedded-postgres.js';
import { ENTITIES } from '../registry/store/entities.js';

const USAGE = `usage: migrate <run|revert|show|generate NAME>
  run        apply pending migrations
  revert     undo the most recent migration
  show       list migrations and whether each is applied
  generate   write migrations/<timestamp>-NAME.ts from the entity/schema difference
Uses DATABASE_URL, or the embedded database in DATA_DIR when it is unset.`;

async function main(): Promise<number> {
  const [cmd, name] = process.argv.slice(2);
  if (!cmd || !['run', 'revert', 'show', 'generate'].includes(cmd) || (cmd === 'generate' && !name)) {
    process.stderr.write(USAGE + '\n');
    return 2;
  }
  const config = loadConfig();
  const embedded = config.DATABASE_URL ? undefined : await EmbeddedPostgres.start(config.DATA_DIR);
  const ds = createDataSource(config.DATABASE_URL ?? embedded!.url, 1, ENTITIES);
  try {
    await ds.initialize();
    if (cmd === 'run') {
      const done = await ds.runMigrations({ transaction: 'each' });
      process.stdout.write(done.length ? done.map((m) => `applied ${m.name}\n`).join('') : 'nothing to apply\n');
    } else if (cmd === 'revert') {
      await ds.undoLastMigration({ transaction: 'each' });
      process.stdout.write('reverted the last migration\n');
    } else if (cmd === 'show') {
      const rows: { name: string }[] = await ds.query(`SELECT "name" FROM "migrations" ORDER BY "id"`).catch(() => []);
      const applied = new Set(rows.map((r) => r.name));
      for (const m of ds.migrations) process.stdout.write(`${applied.has(m.name!) ? '[X]' : '[ ]'} ${m.name}\n`);
    } else {
      await ds.destroy();
      // Delegate to TypeORM's generator against this database, writing a TypeScript migration.
      const out = join(PACKAGE_ROOT, 'migrations', name);
      const r = spawnSync(process.execPath, [join(PACKAGE_ROOT, 'node_modules/typeorm/cli.js'), 'migration:generate', '-d', join(PACKAGE_ROOT, 'build/src/cli/data-source.js'), out], {
        stdio: 'inherit',
        env: { ...process.env, DATABASE_URL: config.DATABASE_URL ?? embedded!.url },
      });
      process.stdout.write(`add the new class to migrations/index.ts\n`);
      return r.status ?? 1;
    }
    return 0;
  } finally {
    if (ds.isInitialized) await ds.destroy();
    await embedded?.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`migrate: ${e instanceof ConfigError ? e.message : (e as Error).stack}\n`);
    process.exit(1);
  },
);
