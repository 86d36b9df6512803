import { Inject, Injectable } from '@nestjs/common';
import type { DataSource, EntityManager } from 'typeorm';
import { AlreadyExists, dataFault, DomainError, storageFault, Unavailable } from '../common/errors.js';
import { Database } from '../database/database.js';
import type { Role, Scopes } from './roles.js';

/** A stored token as the API shows it (never the secret nor its hash). */
export interface TokenInfo {
  id: string;
  name: string;
  roles: Role[];
  scopes: Scopes;
  expiresAt?: string;
  createdAt: string;
  createdBy: string;
}

/** A stored token with what verifying its secret needs. */
export interface StoredToken extends TokenInfo {
  salt: Buffer;
  hash: Buffer;
}

interface Row {
  id: string;
  name: string;
  roles: Role[];
  scopes: Scopes;
  salt: Buffer;
  hash: Buffer;
  expires_at: Date | null;
  created_at: Date;
  created_by: string;
}

const COLUMNS = `"id", "name", "roles", "scopes", "salt", "hash", "expires_at", "created_at", "created_by"`;

const toToken = (r: Row): StoredToken => ({
  id: r.id,
  name: r.name,
  roles: r.roles,
  scopes: r.scopes ?? {},
  ...(r.expires_at ? { expiresAt: new Date(r.expires_at).toISOString() } : {}),
  createdAt: new Date(r.created_at).toISOString(),
  createdBy: r.created_by,
  salt: r.salt,
  hash: r.hash,
});

/** Without the secret's hash: what list and create answer. */
export const publicInfo = ({ salt, hash, ...info }: StoredToken): TokenInfo => info;

// Same classification as the registry store: a dropped or refused connection is 503, a duplicate name 409.
function mapError(e: unknown, name?: string): unknown {
  if (e instanceof DomainError) return e;
  const err = e as { code?: string; message?: string; severity?: string; driverError?: { code?: string; severity?: string } };
  const code = err.code ?? err.driverError?.code;
  if (code === '23505') return new AlreadyExists(`a token named ${name ?? '?'} already exists`);
  const storage = storageFault(code, err.message ?? String(e)) ?? dataFault(code, err.message ?? String(e), 'id');
  if (storage) return storage;
  if ((code && /^(08|57P0|53|3D000|ECONN|ETIMEDOUT|EPIPE|ENOTFOUND)/.test(code)) || (err.severity ?? err.driverError?.severity) === 'FATAL' || /Connection terminated|connection timeout|not queryable|Connection is not established|ECONNREFUSED/i.test(err.message ?? ''))
    return new Unavailable(`database unavailable: ${err.message}`);
  return e;
}

/** The tokens table (migrations/1764720000000-Tokens.ts). */
@Injectable()
export class TokenStore {
  private readonly ds: DataSource;

  constructor(@Inject(Database) db: Database) {
    this.ds = db.dataSource;
  }

  async get(id: string): Promise<StoredToken | undefined> {
    try {
      const rows: Row[] = await this.ds.query(`SELECT ${COLUMNS} FROM "tokens" WHERE "id" = $1`, [id]);
      return rows[0] ? toToken(rows[0]) : undefined;
    } catch (e) {
      throw mapError(e);
    }
  }

  async list(): Promise<TokenInfo[]> {
    try {
      const rows: Row[] = await this.ds.query(`SELECT ${COLUMNS} FROM "tokens" ORDER BY "name" COLLATE "C"`);
      return rows.map((r) => publicInfo(toToken(r)));
    } catch (e) {
      throw mapError(e);
    }
  }

  async insert(t: StoredToken): Promise<StoredToken> {
    try {
      return await insertRow(this.ds.manager, t);
    } catch (e) {
      throw mapError(e, t.name);
    }
  }

  /** Whether the token existed. */
  async delete(id: string): Promise<boolean> {
    try {
      const rows: unknown[] = await this.ds.query(`WITH d AS (DELETE FROM "tokens" WHERE "id" = $1 RETURNING "id") SELECT * FROM d`, [id]);
      return rows.length > 0;
    } catch (e) {
      throw mapError(e);
    }
  }

  /**
   * Inserts `make()`'s token unless an unexpired admin token exists, in one
   * transaction that locks the table, so replicas starting together create
   * at most one. Returns the token created, or undefined.
   */
  async insertIfNoAdmin(make: () => Promise<StoredToken>): Promise<StoredToken | undefined> {
    try {
      return await this.ds.transaction(async (em) => {
        await em.query(`LOCK TABLE "tokens" IN SHARE ROW EXCLUSIVE MODE`);
        const [found] = await em.query(`SELECT 1 FROM "tokens" WHERE "roles" @> '["admin"]'::jsonb AND ("expires_at" IS NULL OR "expires_at" > now()) LIMIT 1`);
        if (found) return undefined;
        return insertRow(em, await make());
      });
    } catch (e) {
      throw mapError(e);
    }
  }
}

async function insertRow(em: EntityManager, t: StoredToken): Promise<StoredToken> {
  const rows: Row[] = await em.query(
    `INSERT INTO "tokens" (${COLUMNS}) VALUES ($1, $2, $3::jsonb, $4::jsonb, $5, $6, $7, now(), $8) RETURNING ${COLUMNS}`,
    [t.id, t.name, JSON.stringify(t.roles), JSON.stringify(t.scopes), t.salt, t.hash, t.expiresAt ?? null, t.createdBy],
  );
  return toToken(rows[0]);
}
