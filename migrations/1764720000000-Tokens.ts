import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * API tokens (only a salted scrypt hash of each secret is kept) and the
 * change log's comment: what a caller said about itself (X-Switchyard-Actor)
 * once the actor is the authenticated identity.
 */
export class Tokens1764720000000 implements MigrationInterface {
  name = 'Tokens1764720000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "tokens" (
      "id" varchar(32) PRIMARY KEY,
      "name" varchar(63) NOT NULL,
      "roles" jsonb NOT NULL,
      "scopes" jsonb NOT NULL DEFAULT '{}',
      "salt" bytea NOT NULL,
      "hash" bytea NOT NULL,
      "expires_at" timestamptz,
      "created_at" timestamptz NOT NULL,
      "created_by" varchar(128) NOT NULL,
      CONSTRAINT "uq_tokens_name" UNIQUE ("name"))`);
    await q.query(`ALTER TABLE "changes" ADD COLUMN "comment" varchar(256)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "changes" DROP COLUMN "comment"`);
    await q.query(`DROP TABLE "tokens"`);
  }
}
