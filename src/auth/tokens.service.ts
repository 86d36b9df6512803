import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { AppConfig } from '../config/config.js';
import { Conflict, NotFound, PermissionDenied, ValidationFailed } from '../common/errors.js';
import { AuthService, type Caller } from './auth.service.js';
import type { CreateTokenDto } from './dto.js';
import { levelOf, type Role, type Scopes, scopesWithin } from './roles.js';
import { hashSecret, newSecret, parseSecret } from './secrets.js';
import { publicInfo, type StoredToken, type TokenInfo, TokenStore } from './token-store.js';

/** Creating, listing and deleting tokens; the admin token generated at first start. */
@Injectable()
export class TokensService implements OnApplicationBootstrap {
  private readonly log = new Logger('Auth');

  constructor(
    @Inject(AppConfig) private readonly config: AppConfig,
    private readonly store: TokenStore,
    private readonly auth: AuthService,
  ) {}

  /**
   * AUTH_MODE=token without ADMIN_TOKEN and without any admin token: make one
   * and print it once, so a fresh installation can be administered at all.
   */
  async onApplicationBootstrap(): Promise<void> {
    if (!this.auth.enabled || this.config.ADMIN_TOKEN) return;
    let secret = '';
    const created = await this.store.insertIfNoAdmin(async () => {
      const made = await this.make({ name: '', roles: ['admin'] }, 'switchyard');
      secret = made.secret;
      return { ...made.row, name: `bootstrap-${made.row.id}` };
    });
    if (created)
      this.log.warn(
        `AUTH_MODE=token and no admin token existed: created admin token "${created.name}". This is the only time it is shown; ` +
          `store it now and use it to create other tokens (POST /api/v1/tokens), or set ADMIN_TOKEN: ${secret}`,
      );
  }

  async create(body: CreateTokenDto, caller: Caller): Promise<TokenInfo & { secret: string }> {
    const p = caller.principal;
    const scopes = compactScopes(body.scopes ?? {});
    // A token never grants more than its creator holds (with AUTH_MODE=none there is no creator to bound it).
    if (p && levelOf(body.roles) > levelOf(p.roles)) throw new PermissionDenied(`${p.actor}: cannot create a token with roles beyond its own (${p.roles.join(', ')})`);
    if (p && !scopesWithin(scopes, p.scopes)) throw new PermissionDenied(`${p.actor}: cannot create a token with scopes wider than its own`);
    if (body.expiresAt && Date.parse(body.expiresAt) <= Date.now()) throw new ValidationFailed([{ field: 'expiresAt', message: 'must be in the future' }]);
    const { row, secret } = await this.make({ ...body, scopes }, caller.actor);
    return { ...publicInfo(await this.store.insert(row)), secret };
  }

  async list(): Promise<{ items: TokenInfo[] }> {
    return { items: await this.store.list() };
  }

  async remove(id: string, caller: Caller): Promise<{ deleted: TokenInfo }> {
    if (caller.principal?.tokenId === id) throw new Conflict('a token cannot delete itself: use another admin token');
    const t = await this.store.get(id);
    if (!t || !(await this.store.delete(id))) throw new NotFound(`token ${id} not found`);
    this.auth.forget(id);
    return { deleted: publicInfo(t) };
  }

  private async make(body: { name: string; roles: Role[]; expiresAt?: string; scopes?: Scopes }, createdBy: string): Promise<{ row: StoredToken; secret: string }> {
    const { id, secret } = newSecret();
    const { salt, hash } = await hashSecret(parseSecret(secret)!.random);
    const row: StoredToken = {
      id,
      name: body.name,
      roles: body.roles,
      scopes: body.scopes ?? {},
      ...(body.expiresAt ? { expiresAt: new Date(body.expiresAt).toISOString() } : {}),
      createdAt: new Date().toISOString(),
      createdBy: createdBy.slice(0, 128),
      salt,
      hash,
    };
    return { row, secret };
  }
}

/** Only the dimensions given, as plain arrays (the DTO instance carries no prototype into jsonb). */
function compactScopes(s: Scopes): Scopes {
  return {
    ...(s.kinds ? { kinds: [...s.kinds] } : {}),
    ...(s.namespaces ? { namespaces: [...s.namespaces] } : {}),
    ...(s.services ? { services: [...s.services] } : {}),
  };
}
