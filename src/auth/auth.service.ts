import { Inject, Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '../config/config.js';
import { PermissionDenied, RateLimited, Unauthenticated } from '../common/errors.js';
import { JwtVerifier, looksLikeJwt } from './jwt.js';
import { GRPC_POLICY, type PolicyRequest, restPolicy } from './policy.js';
import { TokenBuckets } from './rate-limit.js';
import { authorize, type Need, type Principal } from './roles.js';
import { fingerprint, parseSecret, sameString, verifySecret } from './secrets.js';
import { TokenStore } from './token-store.js';

/** Who a request is from, as the change log records it. */
export interface Caller {
  actor: string;
  /** The self-declared X-Switchyard-Actor, kept as a comment when the actor is authenticated. */
  comment?: string;
  principal?: Principal;
}

// A verified secret is trusted this long before the table is read again: the time a
// token deleted on another replica keeps working there. Expiry is checked on every call.
const CACHE_MS = 5000;
// scrypt is slow on purpose: a secret verified once is not hashed again for this long
// while its row is unchanged (re-reading the row is a cheap primary-key lookup).
const VERIFIED_MS = 10 * 60_000;
const CACHE_MAX = 10_000;

/** The actor of the ADMIN_TOKEN from the environment. */
export const ENV_ADMIN_ACTOR = 'token:ADMIN_TOKEN';

/** A refused call, as the audit trail records it. */
export interface AuthFailureEvent {
  status: 'unauthenticated' | 'forbidden' | 'rate_limited';
  reason: string;
  method?: string;
  path?: string;
  remote?: string;
}

/**
 * Authentication (bearer tokens, ADMIN_TOKEN, OIDC JWTs), per-identity rate
 * limits and the policy check, shared by the REST guard, the heartbeat fast
 * path and the gRPC services. With AUTH_MODE=none every check passes and the
 * actor is what the caller says, as before authentication existed.
 */
@Injectable()
export class AuthService {
  private readonly log = new Logger('Auth');
  private readonly jwt?: JwtVerifier;
  private readonly buckets: TokenBuckets;
  /** fingerprint(secret) → the principal, or the reason it was refused. */
  private readonly cache = new Map<string, { until: number; principal?: Principal; hash?: Buffer; verifiedUntil?: number; refused?: string }>();

  constructor(
    @Inject(AppConfig) private readonly config: AppConfig,
    private readonly tokens: TokenStore,
  ) {
    if (config.OIDC_JWKS_URL)
      this.jwt = new JwtVerifier({ jwksUrl: config.OIDC_JWKS_URL, issuer: config.OIDC_ISSUER, audience: config.OIDC_AUDIENCE, rolesClaim: config.OIDC_ROLES_CLAIM });
    this.buckets = new TokenBuckets(config.AUTH_RATE_LIMIT_RPS, config.AUTH_RATE_LIMIT_BURST);
  }

  /** Whether requests need credentials (AUTH_MODE=token). */
  get enabled(): boolean {
    return this.config.AUTH_MODE === 'token';
  }

  /**
   * The REST check: `path` is the Express route (`/api/v1/services/:name`).
   * Throws Unauthenticated (401), RateLimited (429) or PermissionDenied (403).
   */
  async checkRest(authorization: string | undefined, declared: unknown, method: string, path: string, req: PolicyRequest, remote?: string): Promise<Caller> {
    return this.reported(() => this.restCheck(authorization, declared, method, path, req), { method, path, remote });
  }

  private readonly failureListeners: ((f: AuthFailureEvent) => void)[] = [];

  /** Calls `fn` for every refused call (401, 403, 429): the audit trail records them. */
  onFailure(fn: (f: AuthFailureEvent) => void): void {
    this.failureListeners.push(fn);
  }

  private async reported(check: () => Promise<Caller>, where: Omit<AuthFailureEvent, 'reason' | 'status'>): Promise<Caller> {
    try {
      return await check();
    } catch (e) {
      if (e instanceof Unauthenticated || e instanceof PermissionDenied || e instanceof RateLimited) {
        const f: AuthFailureEvent = { ...where, status: e instanceof Unauthenticated ? 'unauthenticated' : e instanceof RateLimited ? 'rate_limited' : 'forbidden', reason: e.message };
        for (const fn of this.failureListeners) {
          try {
            fn(f);
          } catch {
            /* a listener never changes the answer */
          }
        }
      }
      throw e;
    }
  }

  private async restCheck(authorization: string | undefined, declared: unknown, method: string, path: string, req: PolicyRequest): Promise<Caller> {
    const policy = restPolicy(method, path);
    if (!policy) {
      this.log.error(`no access policy for ${method} ${path}: refused (add it to src/auth/policy.ts)`);
      throw new PermissionDenied(`no access policy for ${method} ${path}`);
    }
    if ('public' in policy) return this.caller(undefined, declared);
    return this.check(authorization, declared, () => ({ role: policy.role, target: policy.target(req) }));
  }

  /** The gRPC check of `Service/Method` (e.g. `Registry/Create`) with its decoded request. */
  async checkGrpc(authorization: unknown, declared: unknown, method: string, request: unknown): Promise<Caller> {
    return this.reported(() => this.grpcCheck(authorization, declared, method, request), { method: 'gRPC', path: method });
  }

  private async grpcCheck(authorization: unknown, declared: unknown, method: string, request: unknown): Promise<Caller> {
    const policy = GRPC_POLICY[method];
    if (!policy) {
      this.log.error(`no access policy for gRPC ${method}: refused (add it to src/auth/policy.ts)`);
      throw new PermissionDenied(`no access policy for ${method}`);
    }
    return this.check(typeof authorization === 'string' ? authorization : undefined, declared, () => policy((request ?? {}) as Record<string, unknown>));
  }

  /** Forgets cached verifications of a token (it was deleted on this replica). */
  forget(tokenId: string): void {
    for (const [k, v] of this.cache) if (v.principal?.tokenId === tokenId) this.cache.delete(k);
  }

  private async check(authorization: string | undefined, declared: unknown, need: () => Need): Promise<Caller> {
    if (!this.enabled) return this.caller(undefined, declared);
    const principal = await this.authenticate(authorization);
    const wait = this.buckets.take(principal.id);
    if (wait) throw new RateLimited(`${principal.actor}: rate limit of ${this.config.AUTH_RATE_LIMIT_RPS} requests per second (burst ${this.config.AUTH_RATE_LIMIT_BURST}) exceeded`, wait);
    authorize(principal, need());
    return this.caller(principal, declared);
  }

  private caller(principal: Principal | undefined, declared: unknown): Caller {
    const said = declared === undefined || declared === null || declared === '' ? undefined : String(declared);
    if (!principal) return { actor: (said ?? 'anonymous').slice(0, 128) };
    return { actor: principal.actor, ...(said !== undefined ? { comment: said.slice(0, 256) } : {}), principal };
  }

  /** The principal behind an Authorization header; Unauthenticated when there is none. */
  async authenticate(authorization: string | undefined): Promise<Principal> {
    const m = /^Bearer[ \t]+(\S+)\s*$/i.exec(authorization ?? '');
    if (!authorization) throw new Unauthenticated('authentication required: send Authorization: Bearer <token>');
    if (!m) throw new Unauthenticated('malformed Authorization header: expected Bearer <token>');
    const secret = m[1];
    const now = Date.now();
    const p = await this.principalOf(secret, now);
    if (p.expiresAt !== undefined && p.expiresAt <= now) throw new Unauthenticated(`${p.actor}: the token has expired`);
    return p;
  }

  private async principalOf(secret: string, now: number): Promise<Principal> {
    if (this.config.ADMIN_TOKEN && sameString(secret, this.config.ADMIN_TOKEN)) return { id: ENV_ADMIN_ACTOR, actor: ENV_ADMIN_ACTOR, roles: ['admin'], scopes: {} };
    const parsed = parseSecret(secret);
    if (!parsed) {
      if (this.jwt && looksLikeJwt(secret)) return this.jwt.verify(secret);
      throw new Unauthenticated(`malformed token: expected sy_<id>_<secret>${this.jwt ? ' or a JWT' : ''}`);
    }
    const fp = fingerprint(secret);
    const hit = this.cache.get(fp);
    if (hit && hit.until > now) {
      if (hit.principal) return hit.principal;
      throw new Unauthenticated(hit.refused!);
    }
    const row = await this.tokens.get(parsed.id);
    const stillVerified = !!row && !!hit?.principal && hit.verifiedUntil! > now && hit.hash!.equals(row.hash);
    const ok = stillVerified || (!!row && (await verifySecret(parsed.random, row.salt, row.hash)));
    if (this.cache.size >= CACHE_MAX) this.cache.clear();
    if (!ok) {
      // Remembered briefly too, so repeating a wrong secret costs no scrypt.
      const refused = 'unknown token';
      this.cache.set(fp, { until: now + CACHE_MS, refused });
      throw new Unauthenticated(refused);
    }
    const principal: Principal = {
      id: `token:${row.id}`,
      actor: `token:${row.name}`,
      roles: row.roles,
      scopes: row.scopes,
      tokenId: row.id,
      ...(row.expiresAt ? { expiresAt: Date.parse(row.expiresAt) } : {}),
    };
    this.cache.set(fp, { until: now + CACHE_MS, principal, hash: row.hash, verifiedUntil: stillVerified ? hit!.verifiedUntil : now + VERIFIED_MS });
    return principal;
  }
}
