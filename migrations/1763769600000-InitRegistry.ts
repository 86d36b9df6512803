import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Registry resources, the change log and the store revision counter. */
export class InitRegistry1763769600000 implements MigrationInterface {
  name = 'InitRegistry1763769600000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "registry_state" ("id" smallint PRIMARY KEY CHECK ("id" = 1), "revision" bigint NOT NULL)`);
    await q.query(`INSERT INTO "registry_state" ("id", "revision") VALUES (1, 0)`);
    await q.query(`CREATE TABLE "resources" (
      "id" bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      "kind" varchar(32) NOT NULL,
      "scope" varchar(63) NOT NULL DEFAULT '',
      "name" varchar(63) NOT NULL,
      "labels" jsonb NOT NULL DEFAULT '{}',
      "spec" jsonb NOT NULL,
      "status" jsonb NOT NULL DEFAULT '{}',
      "version" integer NOT NULL,
      "revision" bigint NOT NULL,
      "created_at" timestamptz NOT NULL,
      "updated_at" timestamptz NOT NULL,
      CONSTRAINT "uq_resources_kind_scope_name" UNIQUE ("kind", "scope", "name"))`);
    await q.query(`CREATE INDEX "ix_resources_labels" ON "resources" USING gin ("labels")`);
    await q.query(`CREATE TABLE "changes" (
      "revision" bigint PRIMARY KEY,
      "kind" varchar(32) NOT NULL,
      "scope" varchar(63) NOT NULL,
      "name" varchar(63) NOT NULL,
      "version" integer NOT NULL,
      "op" varchar(8) NOT NULL CHECK ("op" IN ('create', 'update', 'delete')),
      "actor" varchar(128) NOT NULL,
      "at" timestamptz NOT NULL,
      "object" jsonb)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "changes"`);
    await q.query(`DROP TABLE "resources"`);
    await q.query(`DROP TABLE "registry_state"`);
  }
}
