import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The audit trail: one row per committed change (who, what, which request)
 * and per authentication failure. Separate from the change log because it
 * also records what is not a change, and is written after the commit, off
 * the write path (a failure to record never fails the write).
 */
export class Audit1764720100000 implements MigrationInterface {
  name = 'Audit1764720100000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "audit_events" (
      "id" bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      "at" timestamptz NOT NULL,
      "type" varchar(16) NOT NULL CONSTRAINT "audit_events_type_check" CHECK ("type" IN ('write', 'auth_failure')),
      "actor" varchar(128),
      "kind" varchar(32),
      "scope" varchar(200),
      "name" varchar(128),
      "op" varchar(8),
      "version" integer,
      "revision" bigint,
      "request_id" varchar(128),
      "detail" jsonb
    )`);
    await q.query(`CREATE INDEX "ix_audit_events_at" ON "audit_events" ("at")`);
    await q.query(`CREATE INDEX "ix_audit_events_actor" ON "audit_events" ("actor", "id")`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "audit_events"`);
  }
}
