import { Column, Entity, PrimaryColumn, Unique } from 'typeorm';

/** An API token: who it is, what it may do, and a salted scrypt hash of its secret (never the secret). */
@Entity({ name: 'tokens' })
@Unique('uq_tokens_name', ['name'])
export class TokenRow {
  /** The `<id>` in `sy_<id>_<random>`. */
  @PrimaryColumn({ type: 'varchar', length: 32 })
  id!: string;

  /** Names the token in the change log (`token:<name>`). */
  @Column({ type: 'varchar', length: 63 })
  name!: string;

  @Column({ type: 'jsonb' })
  roles!: string[];

  @Column({ type: 'jsonb', default: () => "'{}'" })
  scopes!: Record<string, string[]>;

  @Column({ type: 'bytea' })
  salt!: Buffer;

  @Column({ type: 'bytea' })
  hash!: Buffer;

  @Column({ name: 'expires_at', type: 'timestamptz', nullable: true })
  expiresAt!: Date | null;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'created_by', type: 'varchar', length: 128 })
  createdBy!: string;
}

/** The auth module's tables, for the DataSource. */
export const AUTH_ENTITIES = [TokenRow];
