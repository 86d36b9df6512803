import { Check, Column, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn, Unique } from 'typeorm';

/** One registry resource of any kind; endpoints are scoped by their service's name. */
@Entity({ name: 'resources' })
@Unique('uq_resources_kind_scope_name', ['kind', 'scope', 'name'])
export class ResourceRow {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' })
  id!: string;

  @Column({ type: 'varchar', length: 32 })
  kind!: string;

  /** Service name for endpoints, namespace/group for configs, '' for every other kind. */
  @Column({ type: 'varchar', length: 200, default: '' })
  scope!: string;

  @Column({ type: 'varchar', length: 128 })
  name!: string;

  @Index('ix_resources_labels', { synchronize: false })
  @Column({ type: 'jsonb', default: () => "'{}'" })
  labels!: Record<string, string>;

  @Column({ type: 'jsonb' })
  spec!: Record<string, unknown>;

  @Column({ type: 'jsonb', default: () => "'{}'" })
  status!: Record<string, unknown>;

  @Column({ type: 'integer' })
  version!: number;

  /** Store revision of the last change to this row. */
  @Column({ type: 'bigint' })
  revision!: string;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}

/** One committed change; `revision` increases across the whole store in commit order. */
@Entity({ name: 'changes' })
@Check('changes_op_check', `"op" IN ('create', 'update', 'delete')`)
export class ChangeRow {
  @PrimaryColumn({ type: 'bigint' })
  revision!: string;

  @Column({ type: 'varchar', length: 32 })
  kind!: string;

  @Column({ type: 'varchar', length: 200 })
  scope!: string;

  @Column({ type: 'varchar', length: 128 })
  name!: string;

  @Column({ type: 'integer' })
  version!: number;

  @Column({ type: 'varchar', length: 8 })
  op!: 'create' | 'update' | 'delete';

  @Column({ type: 'varchar', length: 128 })
  actor!: string;

  /** X-Switchyard-Actor when the actor is an authenticated identity: what the caller said, not proven. */
  @Column({ type: 'varchar', length: 256, nullable: true })
  comment!: string | null;

  @Column({ type: 'timestamptz' })
  at!: Date;

  /** The resource as written (null for deletes), for history and replay. */
  @Column({ type: 'jsonb', nullable: true })
  object!: Record<string, unknown> | null;
}

/** Single-row table holding the last assigned store revision. */
@Entity({ name: 'registry_state' })
@Check('registry_state_id_check', `"id" = 1`)
export class RegistryStateRow {
  @PrimaryColumn({ type: 'smallint' })
  id!: number;

  @Column({ type: 'bigint' })
  revision!: string;
}

export const ENTITIES = [ResourceRow, ChangeRow, RegistryStateRow];
