import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';
import { Unauthenticated, Unavailable } from '../common/errors.js';
import { ROLES, type Principal, type Role } from './roles.js';

/** Where JWTs come from and how their roles are read (the OIDC_* settings). */
export interface OidcOptions {
  jwksUrl: string;
  issuer?: string;
  audience?: string;
  /** Claim name or dotted path (realm_access.roles). */
  rolesClaim: string;
}

/** A compact JWS: three base64url parts. */
export const looksLikeJwt = (s: string) => /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(s);

/**
 * Verifies bearer JWTs against an OIDC provider's JWKS (fetched and cached by
 * jose, refetched when an unknown key id shows up) and maps a claim to roles.
 */
export class JwtVerifier {
  private readonly jwks: ReturnType<typeof createRemoteJWKSet>;

  constructor(private readonly o: OidcOptions) {
    this.jwks = createRemoteJWKSet(new URL(o.jwksUrl), { timeoutDuration: 5000, cooldownDuration: 30_000 });
  }

  async verify(jwt: string): Promise<Principal> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(jwt, this.jwks, { issuer: this.o.issuer, audience: this.o.audience }));
    } catch (e) {
      // The provider being unreachable is not the caller's fault: 503, retry.
      if (e instanceof errors.JWKSTimeout || (e instanceof Error && !(e instanceof errors.JOSEError))) throw new Unavailable(`cannot fetch the OIDC JWKS: ${e.message}`);
      if (e instanceof errors.JWTExpired) throw new Unauthenticated('the JWT has expired');
      throw new Unauthenticated(`the JWT is not valid: ${(e as Error).message}`);
    }
    if (!payload.sub) throw new Unauthenticated('the JWT has no sub claim');
    return {
      id: `jwt:${payload.sub}`,
      actor: `jwt:${payload.sub}`.slice(0, 128),
      roles: rolesOf(claim(payload, this.o.rolesClaim)),
      scopes: {},
      ...(payload.exp ? { expiresAt: payload.exp * 1000 } : {}),
    };
  }
}

function claim(payload: JWTPayload, path: string): unknown {
  if (path in payload) return payload[path];
  return path.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), payload);
}

/** Known role names in a claim (an array, or a space- or comma-separated string); others are ignored. */
function rolesOf(v: unknown): Role[] {
  const names = Array.isArray(v) ? v.map(String) : typeof v === 'string' ? v.split(/[\s,]+/) : [];
  return [...new Set(names.filter((n): n is Role => (ROLES as readonly string[]).includes(n)))];
}
