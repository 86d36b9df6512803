import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Room for the Config kind: its scope is `namespace/group` (up to 63 + 1 + 128
 * characters) and its name a Nacos-style dataId (up to 128). The history
 * index serves a resource's revision list and diff without scanning the log.
 */
export class ConfigCentre1764633600000 implements MigrationInterface {
  name = 'ConfigCentre1764633600000';

  async up(q: QueryRunner): Promise<void> {
    for (const t of ['resources', 'changes']) {
      await q.query(`ALTER TABLE "${t}" ALTER COLUMN "scope" TYPE varchar(200), ALTER COLUMN "name" TYPE varchar(128)`);
    }
    await q.query(`CREATE INDEX "ix_changes_key" ON "changes" ("kind", "scope", "name", "revision")`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX "ix_changes_key"`);
    // Only safe while no Config is stored (its keys do not fit the old columns).
    await q.query(`DELETE FROM "changes" WHERE "kind" = 'Config'`);
    await q.query(`DELETE FROM "resources" WHERE "kind" = 'Config'`);
    for (const t of ['resources', 'changes']) {
      await q.query(`ALTER TABLE "${t}" ALTER COLUMN "scope" TYPE varchar(63), ALTER COLUMN "name" TYPE varchar(63)`);
    }
  }
}
